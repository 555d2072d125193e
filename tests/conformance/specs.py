"""Check what edgellm sends against the peers' published specifications: every answer body,
SSE chunk, named event and NDJSON line of a broad set of requests, validated with
jsonschema against OpenAI's OpenAPI file and Ollama's (read from ../shared/specs, never
copied into the repository). OpenAI's 3.0-style `nullable: true` is read as "or null", as
OpenAI's own SDKs read it. Prints one JSON object: how many bodies were checked, and each
failure with the case, the schema and the first error.

Usage: python specs.py BASE_URL CA_PEM SPECS_DIR
"""
import base64
import copy
import json
import struct
import sys
from pathlib import Path

import httpx
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

base, ca, specs = sys.argv[1], sys.argv[2], Path(sys.argv[3])
http = httpx.Client(base_url=base, verify=ca, timeout=300)


def nullable_as_or_null(node):
    if isinstance(node, dict):
        node = {k: nullable_as_or_null(v) for k, v in node.items()}
        if node.pop("nullable", False) is True:
            return {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [nullable_as_or_null(v) for v in node]
    return node


def load(name, uri):
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(specs / name) as f:
        doc = nullable_as_or_null(yaml.load(f, Loader=loader))
    return doc, DRAFT202012.create_resource(doc), uri


openai_doc, openai_res, OPENAI = load("openai-openapi.yaml", "urn:openai")
# The spec's quirk (see specs/README.md): legacy completions share one schema for the object
# and the stream, whose chunks carry `finish_reason: null` until the end, as its own
# streaming example does. The stream is checked against a copy that allows that null.
_chunk = copy.deepcopy(openai_doc["components"]["schemas"]["CreateCompletionResponse"])
_reason = _chunk["properties"]["choices"]["items"]["properties"]["finish_reason"]
_chunk["properties"]["choices"]["items"]["properties"]["finish_reason"] = {"anyOf": [_reason, {"type": "null"}]}
openai_doc["components"]["schemas"]["CreateCompletionStreamChunk"] = _chunk
openai_res = DRAFT202012.create_resource(openai_doc)
ollama_doc, ollama_res, OLLAMA = load("ollama-openapi.yaml", "urn:ollama")
registry = Registry().with_resources([(OPENAI, openai_res), (OLLAMA, ollama_res)])
validators = {}
checked = 0
failures = []


def validate(case, spec, schema, body):
    global checked
    key = (spec, schema)
    if key not in validators:
        validators[key] = Draft202012Validator({"$ref": f"{spec}#/components/schemas/{schema}"}, registry=registry)
    checked += 1
    errors = sorted(validators[key].iter_errors(body), key=lambda e: len(list(e.absolute_path)))
    if errors:
        e = errors[0]
        failures.append({"case": case, "schema": schema, "at": "/".join(map(str, e.absolute_path)),
                         "error": e.message[:300], "body": json.dumps(body)[:400]})


# The Responses stream: each event against its own schema, found by its `type`.
event_schemas = {}
for ref in openai_doc["components"]["schemas"]["ResponseStreamEvent"]["anyOf"]:
    name = ref["$ref"].rsplit("/", 1)[1]
    kind = openai_doc["components"]["schemas"][name].get("properties", {}).get("type", {})
    for k in kind.get("enum", []):
        event_schemas[k] = name


def post(path, body, expect=200):
    r = http.post(path, json=body)
    if r.status_code != expect:
        failures.append({"case": path, "error": f"status {r.status_code}, expected {expect}", "body": r.text[:400]})
    return r


def sse(path, body):
    """(event name, data) for every frame of a stream."""
    out, name = [], None
    with http.stream("POST", path, json=body) as r:
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                if line[6:] != "[DONE]":
                    out.append((name, json.loads(line[6:])))
                name = None
    return out


def ndjson(path, body):
    with http.stream("POST", path, json=body) as r:
        return [json.loads(l) for l in r.iter_lines() if l.strip()]


user = [{"role": "user", "content": "Name two planets."}]
weather = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
ask_weather = [{"role": "user", "content": "What is the weather in Paris?"}]
planet = {"type": "object", "properties": {"planet": {"type": "string"}}, "required": ["planet"]}

# OpenAI chat: whole answers.
chat_cases = {
    "chat": {"messages": user, "max_tokens": 8},
    "chat usage and stop": {"messages": user, "max_tokens": 24, "stop": ["\n"], "temperature": 0},
    "chat length": {"messages": user, "max_tokens": 2},
    "chat tools auto": {"messages": ask_weather, "tools": weather, "max_tokens": 48, "temperature": 0},
    "chat tools required": {"messages": ask_weather, "tools": weather, "tool_choice": "required", "max_tokens": 48},
    "chat tools named": {"messages": ask_weather, "tools": weather, "max_tokens": 48,
                         "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
    "chat tools none": {"messages": ask_weather, "tools": weather, "tool_choice": "none", "max_tokens": 8},
    "chat legacy functions": {"messages": ask_weather, "functions": [weather[0]["function"]],
                              "function_call": {"name": "get_weather"}, "max_tokens": 48},
    "chat json_object": {"messages": [{"role": "user", "content": "A planet as JSON."}], "max_tokens": 24,
                         "response_format": {"type": "json_object"}},
    "chat logprobs": {"messages": user, "max_tokens": 8, "logprobs": True, "top_logprobs": 2},
    "chat json_schema": {"messages": [{"role": "user", "content": "Name a planet."}], "max_tokens": 24,
                         "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": planet}}},
}
for case, body in chat_cases.items():
    validate(case, OPENAI, "CreateChatCompletionResponse", post("/v1/chat/completions", body).json())

# OpenAI chat: streamed chunks.
for case, body in {
    "chat stream with usage": {**chat_cases["chat"], "stream": True, "stream_options": {"include_usage": True}},
    "chat stream tools": {**chat_cases["chat tools named"], "stream": True},
    "chat stream legacy functions": {**chat_cases["chat legacy functions"], "stream": True},
    "chat stream logprobs": {**chat_cases["chat logprobs"], "stream": True},
}.items():
    for _, chunk in sse("/v1/chat/completions", body):
        validate(case, OPENAI, "CreateChatCompletionStreamResponse", chunk)

# Text completions, embeddings, models.
validate("completion", OPENAI, "CreateCompletionResponse",
         post("/v1/completions", {"prompt": "def add(a, b):", "max_tokens": 8}).json())
validate("completion logprobs", OPENAI, "CreateCompletionResponse",
         post("/v1/completions", {"prompt": "def add(a, b):", "max_tokens": 4, "logprobs": 2}).json())
validate("completion suffix", OPENAI, "CreateCompletionResponse",
         post("/v1/completions", {"prompt": "def add(a, b):\n    return ", "suffix": "\n", "max_tokens": 4}).json())
for _, chunk in sse("/v1/completions", {"prompt": "def add(a, b):", "max_tokens": 4, "stream": True}):
    validate("completion stream", OPENAI, "CreateCompletionStreamChunk", chunk)
for case, body in {
    "embeddings one": {"input": "hello"},
    "embeddings list": {"input": ["hello", "world"]},
}.items():
    validate(case, OPENAI, "CreateEmbeddingResponse", post("/v1/embeddings", body).json())
# base64: the spec types `embedding` as numbers only, while OpenAI (and its SDKs) send and
# read a base64 string of little-endian float32s; the string is decoded, then checked.
b64 = post("/v1/embeddings", {"input": "hello", "encoding_format": "base64"}).json()
for item in b64.get("data", []):
    raw = base64.b64decode(item["embedding"])
    item["embedding"] = list(struct.unpack(f"<{len(raw) // 4}f", raw))
validate("embeddings base64", OPENAI, "CreateEmbeddingResponse", b64)
models = http.get("/v1/models").json()
validate("models", OPENAI, "ListModelsResponse", models)
validate("model", OPENAI, "Model", http.get(f"/v1/models/{models['data'][0]['id']}").json())

# Errors in OpenAI's shape.
validate("error: bad field", OPENAI, "ErrorResponse",
         post("/v1/chat/completions", {"messages": user, "temperature": 9}, expect=400).json())
validate("error: no messages", OPENAI, "ErrorResponse", post("/v1/chat/completions", {"messages": []}, expect=400).json())
validate("error: unknown route", OPENAI, "ErrorResponse", post("/v1/nothing", {}, expect=404).json())
validate("error: responses refusal", OPENAI, "ErrorResponse",
         post("/v1/responses", {"input": "hi", "previous_response_id": "resp_1"}, expect=400).json())

# The Responses API: whole and streamed, text, calls, a schema, the token limit.
responses_tools = [{"type": "function", "name": "get_weather", "description": "Weather of a city",
                    "parameters": weather[0]["function"]["parameters"], "strict": True}]
responses_cases = {
    "responses text": {"input": "Name two planets.", "max_output_tokens": 8},
    "responses instructions and items": {"instructions": "Be brief.", "max_output_tokens": 8,
                                          "input": [{"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}]},
    "responses incomplete": {"input": "Name two planets.", "max_output_tokens": 2},
    "responses call": {"input": "What is the weather in Paris?", "tools": responses_tools, "max_output_tokens": 48,
                       "tool_choice": {"type": "function", "name": "get_weather"}},
    "responses json_schema": {"input": "Name a planet.", "max_output_tokens": 24,
                              "text": {"format": {"type": "json_schema", "name": "p", "schema": planet}}},
}
for case, body in responses_cases.items():
    validate(case, OPENAI, "Response", post("/v1/responses", body).json())
for case in ("responses text", "responses call"):
    for name, event in sse("/v1/responses", {**responses_cases[case], "stream": True}):
        schema = event_schemas.get(event.get("type"))
        if schema is None or name != event.get("type"):
            failures.append({"case": case + " stream", "error": f"unknown event {name} / {event.get('type')}"})
        else:
            validate(case + " stream", OPENAI, schema, event)

# Ollama: every route against its spec.
for case, body in {
    "ollama chat": {"model": "qwen-test", "messages": user, "stream": False, "options": {"num_predict": 8}},
    "ollama chat tools": {"model": "qwen-test", "messages": ask_weather, "tools": weather, "stream": False,
                          "options": {"num_predict": 48, "temperature": 0}},
    "ollama chat logprobs": {"model": "qwen-test", "messages": user, "stream": False, "logprobs": True,
                             "top_logprobs": 2, "options": {"num_predict": 4}},
    "ollama chat format": {"model": "qwen-test", "messages": user, "stream": False, "format": "json",
                           "options": {"num_predict": 16}},
}.items():
    validate(case, OLLAMA, "ChatResponse", post("/api/chat", body).json())
for line in ndjson("/api/chat", {"model": "qwen-test", "messages": user, "options": {"num_predict": 8}}):
    validate("ollama chat stream", OLLAMA, "ChatStreamEvent", line)
validate("ollama generate", OLLAMA, "GenerateResponse",
         post("/api/generate", {"model": "qwen-test", "prompt": "Hi", "stream": False, "options": {"num_predict": 8}}).json())
validate("ollama generate suffix", OLLAMA, "GenerateResponse",
         post("/api/generate", {"model": "qwen-test", "prompt": "def add(a, b):\n    return ", "suffix": "\n",
                                "stream": False, "options": {"num_predict": 4}}).json())
for line in ndjson("/api/generate", {"model": "qwen-test", "prompt": "Hi", "logprobs": True, "options": {"num_predict": 8}}):
    validate("ollama generate stream", OLLAMA, "GenerateStreamEvent", line)
validate("ollama embed", OLLAMA, "EmbedResponse", post("/api/embed", {"model": "qwen-test", "input": ["a", "b"]}).json())
validate("ollama tags", OLLAMA, "ListResponse", http.get("/api/tags").json())
validate("ollama ps", OLLAMA, "PsResponse", http.get("/api/ps").json())
validate("ollama show", OLLAMA, "ShowResponse", post("/api/show", {"model": "qwen-test"}).json())
validate("ollama version", OLLAMA, "VersionResponse", http.get("/api/version").json())
validate("ollama pull", OLLAMA, "StatusResponse", post("/api/pull", {"model": "qwen-test", "stream": False}).json())
for line in ndjson("/api/pull", {"model": "qwen-test"}):
    validate("ollama pull stream", OLLAMA, "StatusEvent", line)
validate("ollama error", OLLAMA, "ErrorResponse", post("/api/show", {"model": "nope:1b"}, expect=404).json())
validate("ollama error: bad option", OLLAMA, "ErrorResponse",
         post("/api/chat", {"model": "qwen-test", "messages": user, "options": {"temperature": 9}}, expect=400).json())

print(json.dumps({"checked": checked, "failures": failures}))
