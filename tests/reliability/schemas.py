"""The schema-compiler class of hostile requests, on both APIs: `$ref` chains, deep nesting,
huge enums, exponential patterns, `allOf`/`anyOf` products, oversized bounds and tool
schemas. Each is refused with a 4xx naming the limit or served within the limits; never a
crash (a stack overflow aborts the daemon), a hang or a 5xx. Every case runs (no sampling)."""

from hostile import Case, base


def ref_chain(n):
    """`n` definitions, each an alias of the next (20,000 links: ~600 KB, under the body limit)."""
    defs = {f"D{i}": {"$ref": f"#/$defs/D{i + 1}"} for i in range(n - 1)}
    defs[f"D{n - 1}"] = {"type": "integer"}
    return {"$ref": "#/$defs/D0", "$defs": defs}


def nested(levels):
    s = {"type": "integer"}
    for _ in range(levels):
        s = {"type": "object", "properties": {"a": s}, "required": ["a"]}
    return s


def product(branches, options):
    """allOf of `branches` anyOfs of `options` members each: options**branches combinations."""
    return {
        "allOf": [
            {"anyOf": [{"type": "object", "properties": {f"p{b}": {"const": o}}} for o in range(options)]}
            for b in range(branches)
        ]
    }


# (name, schema, expected): True a 200, False a 4xx, None either.
SCHEMAS = [
    ("ref chain of 20000", ref_chain(20_000), False),
    ("ref chain of 300", ref_chain(300), False),
    ("ref chain of 10", ref_chain(10), True),
    ("nesting 200 deep", nested(200), False),
    ("nesting 20 deep", nested(20), True),
    ("enum of 30000", {"enum": list(range(30_000))}, False),
    ("enum of 500", {"enum": list(range(500))}, True),
    ("exponential pattern", {"type": "string", "pattern": "^(a|b)*a(a|b){18}$"}, None),
    ("pattern of 2000 bytes", {"type": "string", "pattern": "a" * 2000}, False),
    ("maxLength 10^9", {"type": "string", "maxLength": 10**9}, False),
    ("maxItems 10^9", {"type": "array", "items": {"type": "integer"}, "maxItems": 10**9}, False),
    ("allOf of anyOf 4^12", product(12, 4), None),
    ("anyOf 3000 wide", {"anyOf": [{"const": f"v{i}"} for i in range(3000)]}, True),
]


def tool(name, parameters):
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


def cases():
    out = []
    for name, schema, ok in SCHEMAS:
        path, body = base("chat")
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
        out.append(Case(f"chat.response_format: {name}", path, body, ok))
        path, body = base("ollama_chat")
        body["format"] = schema
        out.append(Case(f"ollama_chat.format: {name}", path, body, ok))
        path, body = base("generate")
        body["format"] = schema
        out.append(Case(f"generate.format: {name}", path, body, ok))
    # Tools: a parameters schema with its own $defs (Pydantic, MCP) is served; a hostile one
    # is refused, also under `auto` (compiled at submit, not when the call starts).
    pydantic = {
        "type": "object",
        "properties": {"level": {"$ref": "#/$defs/Level"}},
        "required": ["level"],
        "$defs": {"Level": {"type": "string", "enum": ["low", "high"]}},
    }
    for name, params, ok in [
        ("tool with $defs", pydantic, True),
        ("tool with a ref chain of 20000", ref_chain(20_000), False),
        ("tool nested 200 deep", nested(200), False),
    ]:
        for choice in ("auto", "required"):
            path, body = base("chat")
            body["tools"] = [tool("set_level", params)]
            body["tool_choice"] = choice
            out.append(Case(f"chat.tools {name} ({choice})", path, body, ok))
        path, body = base("ollama_chat")
        body["tools"] = [tool("set_level", params)]
        out.append(Case(f"ollama_chat.tools {name}", path, body, ok))
    # 128 tools that are each fine but together exceed the grammar's size limit.
    wide = {"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(200)}}
    path, body = base("chat")
    body["tools"] = [tool(f"t{i}", wide) for i in range(128)]
    out.append(Case("chat.tools 128 x 200 properties", path, body, False))
    # Stop strings: long ones are refused (each is matched after every token).
    for stop, ok in [(["x" * 256], True), (["x" * 257], False), (["a" * 256] * 4, True)]:
        path, body = base("chat")
        body["stop"] = stop
        out.append(Case(f"chat.stop {len(stop)} x {len(stop[0])} bytes", path, body, ok))
        path, body = base("generate")
        body["options"]["stop"] = stop
        out.append(Case(f"generate.stop {len(stop)} x {len(stop[0])} bytes", path, body, ok))
    # Embeddings: more tokens in one request than the per-request cap is refused at once.
    path = "/api/embed"
    words = " ".join(["lamp"] * 500)
    out.append(Case("embed 70 x 500 tokens (over the request cap)", path, {"input": [words] * 70}, False))
    out.append(Case("v1.embeddings 70 x 500 tokens", "/v1/embeddings", {"input": [words] * 70}, False))
    return out
