"""Use the official `openai` package's Responses API (`client.responses.create` and
`client.responses.stream`) against edgellm, unmodified, over HTTPS trusting only the
server's CA. Prints one JSON object; tests/python_clients.rs compares it with the server's
own answers.

Usage: python responses_client.py BASE_URL CA_PEM
"""
import json
import sys

import httpx
import openai

base, ca = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base + "/v1", api_key="unused", http_client=httpx.Client(verify=ca))
out = {}

r = client.responses.create(model="any", input="Name two planets.", temperature=0, max_output_tokens=24)
out["text"] = r.output_text
out["status"] = r.status
out["output_tokens"] = r.usage.output_tokens
out["input_tokens"] = r.usage.input_tokens

deltas, kinds = [], []
for event in client.responses.create(model="any", input="Name two planets.", temperature=0,
                                     max_output_tokens=24, stream=True):
    kinds.append(event.type)
    if event.type == "response.output_text.delta":
        deltas.append(event.delta)
    if event.type in ("response.completed", "response.incomplete"):
        out["stream_final_text"] = event.response.output_text
out["stream_text"] = "".join(deltas)
out["stream_first_last"] = [kinds[0], kinds[-1]]

with client.responses.stream(model="any", input="Name two planets.", temperature=0, max_output_tokens=24) as s:
    out["helper_text"] = s.get_final_response().output_text

r = client.responses.create(model="any", input="Name two planets.", temperature=0, max_output_tokens=3)
out["short"] = {"status": r.status, "reason": r.incomplete_details.reason if r.incomplete_details else None}

# Tools: a forced call, its output sent back as items, then an answer in text.
tools = [{"type": "function", "name": "get_weather", "description": "Get the current weather of a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
ask = [{"role": "user", "content": "What is the weather in Paris?"}]
r = client.responses.create(model="any", input=ask, tools=tools, temperature=0, max_output_tokens=64,
                            tool_choice={"type": "function", "name": "get_weather"})
call = next(i for i in r.output if i.type == "function_call")
out["call"] = {"name": call.name, "arguments": json.loads(call.arguments)}
ask += [call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "18 C and sunny"}]
r = client.responses.create(model="any", input=ask, tools=tools, temperature=0, max_output_tokens=48,
                            tool_choice="none")
out["after_output"] = {"text": r.output_text, "types": [i.type for i in r.output]}

with client.responses.stream(model="any", input=ask[:1], tools=tools, temperature=0, max_output_tokens=64,
                             tool_choice="required") as s:
    final = s.get_final_response()
call = next(i for i in final.output if i.type == "function_call")
out["stream_call"] = {"name": call.name, "arguments": json.loads(call.arguments)}

schema = {"type": "object", "properties": {"planet": {"type": "string"}}, "required": ["planet"],
          "additionalProperties": False}
r = client.responses.create(model="any", input="Name one planet.", temperature=0, max_output_tokens=48,
                            text={"format": {"type": "json_schema", "name": "planet", "schema": schema, "strict": True}})
out["structured"] = json.loads(r.output_text)

try:
    client.responses.create(model="any", input="hi", previous_response_id="resp_123")
    out["stateless_error"] = None
except openai.BadRequestError as e:
    out["stateless_error"] = {"status": e.status_code, "param": e.param}
print(json.dumps(out))
