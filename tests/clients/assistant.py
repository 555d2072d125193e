"""An assistant's requests through the official `openai` and `ollama` clients and LangChain:
tool calls (auto, required, named, none, streamed, several rounds shaped like Home
Assistant's), structured outputs, and embeddings. Checks as it goes; exits non-zero with a
message at the first failure. Prints one JSON object with what it saw.

Usage: python assistant.py BASE_URL CA_PEM
"""
import base64
import json
import math
import sys

import httpx
import ollama
import openai

base, ca = sys.argv[1], sys.argv[2]
out = {}


def check(cond, what, got=None):
    if not cond:
        print(f"FAILED: {what}: {got!r}", file=sys.stderr)
        sys.exit(1)


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the current time in a timezone",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}


def fits_weather(args):
    return (
        isinstance(args, dict)
        and isinstance(args.get("city"), str)
        and set(args) <= {"city", "unit"}
        and args.get("unit", "celsius") in ("celsius", "fahrenheit")
    )


client = openai.OpenAI(base_url=base + "/v1", api_key="unused", http_client=httpx.Client(verify=ca, timeout=300))
ask = [{"role": "user", "content": "What is the weather like in Paris right now?"}]

# auto: the model calls the tool; arguments parse and fit the schema.
r = client.chat.completions.create(model="any", messages=ask, tools=[WEATHER, TIME], temperature=0)
choice = r.choices[0]
check(choice.finish_reason == "tool_calls", "auto: finish_reason", choice.finish_reason)
calls = choice.message.tool_calls
check(calls and calls[0].function.name == "get_weather", "auto: a get_weather call", calls)
args = json.loads(calls[0].function.arguments)
check(fits_weather(args), "auto: arguments fit the schema", args)
check(calls[0].id.startswith("call_"), "auto: call id", calls[0].id)
check(not (choice.message.content or "").count("<tool_call>"), "auto: no call in content", choice.message.content)
out["openai_auto"] = {"name": calls[0].function.name, "arguments": args}

# Second turn with the tool's result: a text answer, the call kept in the history. (Asked
# about the weather, this 0.5B coder model calls get_weather again whatever the result says;
# with a device tool it answers, as it does in the Home Assistant rounds below.)
LIGHT = {"type": "function", "function": {"name": "turn_on_light", "description": "Turn on a light",
         "parameters": {"type": "object", "properties": {"room": {"type": "string"}}, "required": ["room"]}}}
history = [{"role": "system", "content": "You are a home assistant. Answer in plain text."},
           {"role": "user", "content": "Turn on the kitchen light."}]
r1 = client.chat.completions.create(model="any", messages=history, tools=[WEATHER, LIGHT], temperature=0)
calls1 = r1.choices[0].message.tool_calls
check(calls1 and calls1[0].function.name == "turn_on_light", "turn 1: a turn_on_light call", r1.choices[0].message)
history += [
    {"role": "assistant", "content": None, "tool_calls": [c.model_dump() for c in calls1]},
    {"role": "tool", "tool_call_id": calls1[0].id, "content": json.dumps({"success": True})},
]
r2 = client.chat.completions.create(model="any", messages=history, tools=[WEATHER, LIGHT], temperature=0, max_tokens=80)
check(r2.choices[0].finish_reason in ("stop", "length"), "turn 2: finish", r2.choices[0].finish_reason)
check(not r2.choices[0].message.tool_calls, "turn 2: no call", r2.choices[0].message.tool_calls)
check((r2.choices[0].message.content or "").strip(), "turn 2: a text answer", r2.choices[0].message.content)
out["openai_turn2"] = r2.choices[0].message.content

# The same streamed: index, id and name first, then the arguments.
stream = client.chat.completions.create(model="any", messages=ask, tools=[WEATHER, TIME], temperature=0, stream=True)
name, arguments, ids, finish, content = "", "", [], None, ""
for chunk in stream:
    if not chunk.choices:
        continue
    d = chunk.choices[0].delta
    content += d.content or ""
    for tc in d.tool_calls or []:
        check(tc.index == 0, "stream: index", tc.index)
        if tc.id:
            ids.append(tc.id)
        if tc.function and tc.function.name:
            name += tc.function.name
        if tc.function and tc.function.arguments:
            arguments += tc.function.arguments
    finish = chunk.choices[0].finish_reason or finish
check(finish == "tool_calls", "stream: finish", finish)
check(len(ids) == 1 and name == "get_weather", "stream: one call", (ids, name))
check(json.loads(arguments) == args, "stream: same arguments", arguments)
check("<tool_call>" not in content and '"name"' not in content, "stream: no call in content", content)

# required and a named function force a call; none does not call.
r = client.chat.completions.create(
    model="any", messages=[{"role": "user", "content": "Hello! How are you?"}], tools=[WEATHER, TIME], tool_choice="required", temperature=0
)
check(r.choices[0].message.tool_calls, "required: a call", r.choices[0].message)
r = client.chat.completions.create(
    model="any", messages=ask, tools=[WEATHER, TIME], tool_choice={"type": "function", "function": {"name": "get_time"}}, temperature=0
)
calls = r.choices[0].message.tool_calls
check(calls and calls[0].function.name == "get_time", "named: get_time", calls)
check(isinstance(json.loads(calls[0].function.arguments).get("timezone"), str), "named: arguments", calls[0].function.arguments)
r = client.chat.completions.create(model="any", messages=ask, tools=[WEATHER, TIME], tool_choice="none", temperature=0, max_tokens=40)
check(not r.choices[0].message.tool_calls and r.choices[0].message.content, "none: text", r.choices[0].message)
out["openai_forced"] = "ok"

# Structured outputs: JSON schema (strict) and JSON mode.
schema = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "pets": {"type": "array", "items": {"type": "string"}}},
    "required": ["name", "age", "pets"],
    "additionalProperties": False,
}
r = client.chat.completions.create(
    model="any",
    messages=[{"role": "user", "content": "Invent a person with two pets."}],
    response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema, "strict": True}},
    temperature=0,
)
person = json.loads(r.choices[0].message.content)
check(isinstance(person["name"], str) and isinstance(person["age"], int) and all(isinstance(p, str) for p in person["pets"]), "json_schema", person)
r = client.chat.completions.create(
    model="any", messages=[{"role": "user", "content": "List three colours."}], response_format={"type": "json_object"}, temperature=0, max_tokens=100
)
check(isinstance(json.loads(r.choices[0].message.content), dict), "json_object", r.choices[0].message.content)
out["openai_json_schema"] = person

# LangChain's structured output, each method.
from langchain_openai import ChatOpenAI  # noqa: E402
from pydantic import BaseModel  # noqa: E402


class City(BaseModel):
    name: str
    country: str
    population_millions: float


llm = ChatOpenAI(
    model="any", base_url=base + "/v1", api_key="unused", temperature=0, http_client=httpx.Client(verify=ca, timeout=300)
)
for method in ("json_schema", "function_calling", "json_mode"):
    prompt = "Give facts about Paris as JSON with keys name, country, population_millions."
    city = llm.with_structured_output(City, method=method).invoke(prompt)
    check(isinstance(city, City) and city.name, f"langchain {method}", city)
    out[f"langchain_{method}"] = city.model_dump()

# Embeddings (the openai client asks for base64 and decodes it).
texts = ["The cat sits on the mat.", "A cat is sitting on a rug.", "Quarterly tax filing deadlines for corporations."]
e = client.embeddings.create(model="any", input=texts)
vecs = [d.embedding for d in e.data]
dims = len(vecs[0])
check(all(len(v) == dims for v in vecs) and dims > 0, "embeddings: dims", dims)
for v in vecs:
    check(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-3, "embeddings: unit length", sum(x * x for x in v))
cos = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731
check(cos(vecs[0], vecs[1]) > cos(vecs[0], vecs[2]), "embeddings: paraphrase closer", (cos(vecs[0], vecs[1]), cos(vecs[0], vecs[2])))
check(e.usage.prompt_tokens > 0, "embeddings: usage", e.usage)
raw = httpx.post(base + "/v1/embeddings", json={"input": texts[0], "encoding_format": "float"}, verify=ca).json()
check(len(raw["data"][0]["embedding"]) == dims, "embeddings: float", raw)
b64 = httpx.post(base + "/v1/embeddings", json={"input": texts[0], "encoding_format": "base64"}, verify=ca).json()
floats = [x[0] for x in __import__("struct").iter_unpack("<f", base64.b64decode(b64["data"][0]["embedding"]))]
check(all(abs(a - b) < 1e-6 for a, b in zip(floats, raw["data"][0]["embedding"])), "embeddings: base64 = float", None)
out["embedding_dims"] = dims
out["similarity"] = [cos(vecs[0], vecs[1]), cos(vecs[0], vecs[2])]

oc = ollama.Client(host=base, verify=ca, timeout=300)
oe = oc.embed(model="any", input=texts)
check(len(oe["embeddings"]) == 3 and len(oe["embeddings"][0]) == dims, "ollama embed", None)
check(cos(oe["embeddings"][0], vecs[0]) > 0.999, "ollama embed = openai", None)
old = oc.embeddings(model="any", prompt=texts[0])
check(len(old["embedding"]) == dims, "ollama embeddings", None)

# Ollama tools: arguments as an object; streamed as Ollama streams them.
r = oc.chat(model="any", messages=ask, tools=[WEATHER, TIME], options={"temperature": 0})
calls = r["message"].get("tool_calls") or []
check(calls and calls[0]["function"]["name"] == "get_weather", "ollama: call", r["message"])
check(fits_weather(calls[0]["function"]["arguments"]), "ollama: arguments object", calls[0]["function"]["arguments"])
streamed = [c for part in oc.chat(model="any", messages=ask, tools=[WEATHER, TIME], options={"temperature": 0}, stream=True) for c in (part["message"].get("tool_calls") or [])]
check(len(streamed) == 1 and streamed[0]["function"]["arguments"] == calls[0]["function"]["arguments"], "ollama stream", streamed)
fmt = oc.chat(model="any", messages=[{"role": "user", "content": "Invent a person with two pets."}], format=schema, options={"temperature": 0})
p = json.loads(fmt["message"]["content"])
check(set(p) == {"name", "age", "pets"} and isinstance(p["age"], int), "ollama format schema", p)
out["ollama_call"] = {"name": calls[0]["function"]["name"], "arguments": dict(calls[0]["function"]["arguments"])}

# Home Assistant's Ollama integration, as it talks: its Assist tools, a long system prompt
# with the exposed devices, stream=True, keep_alive, num_ctx 8192, tool results as
# role "tool" messages, several rounds.
def tool(name, desc, props, required):
    return {"type": "function", "function": {"name": name, "description": desc,
            "parameters": {"type": "object", "properties": props, "required": required}}}


area = {"type": "string"}
ha_tools = [
    tool("HassTurnOn", "Turns on/opens a device or entity", {"name": {"type": "string"}, "area": area, "domain": {"type": "array", "items": {"type": "string"}}}, []),
    tool("HassTurnOff", "Turns off/closes a device or entity", {"name": {"type": "string"}, "area": area, "domain": {"type": "array", "items": {"type": "string"}}}, []),
    tool("HassLightSet", "Sets the brightness or color of a light", {"name": {"type": "string"}, "area": area, "brightness": {"type": "integer", "minimum": 0, "maximum": 100}}, []),
    tool("HassClimateSetTemperature", "Sets the target temperature", {"temperature": {"type": "number"}, "area": area}, ["temperature"]),
    tool("HassCancelAllTimers", "Cancels all timers", {"area": area}, []),
    tool("GetLiveContext", "Provides real-time information about the CURRENT state of devices", {}, []),
    tool("todo_get_items", "Query a to-do list", {"todo_list": {"type": "string"}}, ["todo_list"]),
]
devices = "\n".join(
    f"- names: {n}\n  domain: {d}\n  areas: {a}" for n, d, a in [
        ("Kitchen Light", "light", "Kitchen"), ("Living Room Lamp", "light", "Living Room"), ("Bedroom Fan", "fan", "Bedroom"),
        ("Front Door", "lock", "Hallway"), ("Thermostat", "climate", "Living Room"), ("Garage Door", "cover", "Garage"),
        ("Porch Light", "light", "Outside"), ("Office Lamp", "light", "Office"), ("TV", "media_player", "Living Room"),
        ("Dishwasher", "switch", "Kitchen"), ("Washer", "sensor", "Laundry"), ("Bathroom Light", "light", "Bathroom"),
        ("Hall Light", "light", "Hallway"), ("Desk Fan", "fan", "Office"), ("Sprinkler", "switch", "Garden"), ("Shopping List", "todo", "Kitchen"),
    ]
)
system = (
    "You are a voice assistant for Home Assistant.\nAnswer questions about the world truthfully.\n"
    "Answer in plain text. Keep it simple and to the point.\nWhen controlling Home Assistant always call the intent tools. "
    "Use HassTurnOn to lock and HassTurnOff to unlock a lock. When controlling a device, prefer passing just name and domain. "
    "When controlling an area, prefer passing just area name and domain.\n"
    "Static Context: An overview of the areas and the devices in this smart home:\n" + devices
)
messages = [{"role": "system", "content": system}]
rounds = []
for i, (said, keep_alive) in enumerate([("Turn on the kitchen light", "300s"), ("Now turn off the bedroom fan", -1), ("Set the thermostat to 21 degrees", 0)]):
    messages.append({"role": "user", "content": said})
    for _ in range(3):
        kwargs = dict(model="any", messages=messages, tools=ha_tools, stream=True, keep_alive=keep_alive, options={"num_ctx": 8192, "temperature": 0})
        try:
            parts = list(oc.chat(think=False, **kwargs))
        except TypeError:  # an ollama client without `think`
            parts = list(oc.chat(**kwargs))
        check(parts and parts[-1]["done"], "HA: stream done", parts[-1:])
        content = "".join(p["message"]["content"] or "" for p in parts)
        calls = [c for p in parts for c in (p["message"].get("tool_calls") or [])]
        messages.append({"role": "assistant", "content": content, "tool_calls": calls or None})
        if not calls:
            break
        for c in calls:
            names = [t["function"]["name"] for t in ha_tools]
            check(c["function"]["name"] in names, "HA: a known tool", c)
            check(isinstance(c["function"]["arguments"], dict), "HA: arguments object", c)
            rounds.append({"name": c["function"]["name"], "arguments": dict(c["function"]["arguments"])})
            messages.append({"role": "tool", "tool_name": c["function"]["name"], "content": json.dumps({"success": True, "targets": [c["function"]["arguments"].get("name", "device")]})})
    check(content.strip(), f"HA round {i}: a spoken answer", content)
    out.setdefault("home_assistant_answers", []).append(content)
check(rounds, "HA: at least one call", rounds)
out["home_assistant_calls"] = rounds
out["home_assistant_prompt_tokens"] = parts[-1].get("prompt_eval_count")
print(json.dumps(out))
