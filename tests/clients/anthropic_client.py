"""Use the official `anthropic` Python SDK against edgellm's Messages API, unmodified, the way
its docs show, over HTTPS trusting only the server's CA and sending the key as `x-api-key`.
Prints one JSON object; tests/python_clients.rs compares it with the server's own answers.

Usage: python anthropic_client.py BASE_URL CA_PEM
"""
import json
import sys

import anthropic

base, ca = sys.argv[1], sys.argv[2]
client = anthropic.Anthropic(base_url=base, api_key="unused", http_client=anthropic.DefaultHttpxClient(verify=ca))
out = {}
# Recent SDKs no longer take sampling parameters as arguments; the API still reads them, so
# greedy decoding (to compare with the server's own answers) goes in the body.
GREEDY = {"temperature": 0}
question = [{"role": "user", "content": "Name two planets."}]

r = client.messages.create(model="any", max_tokens=24, extra_body=GREEDY, messages=question)
out["text"] = "".join(b.text for b in r.content if b.type == "text")
out["stop_reason"] = r.stop_reason
out["output_tokens"] = r.usage.output_tokens
out["prompt_tokens"] = r.usage.input_tokens + (r.usage.cache_read_input_tokens or 0)

with client.messages.stream(model="any", max_tokens=24, extra_body=GREEDY, messages=question) as s:
    out["stream_text"] = "".join(s.text_stream)
    final = s.get_final_message()
out["stream_final_text"] = "".join(b.text for b in final.content if b.type == "text")
out["stream_stop_reason"] = final.stop_reason
out["stream_output_tokens"] = final.usage.output_tokens

# A stop sequence taken from the answer itself: the answer ends just before it.
words = [w for w in out["text"].split() if len(w) > 3]
stop = words[1] if len(words) > 1 else words[0]
r = client.messages.create(model="any", max_tokens=24, extra_body=GREEDY, messages=question, stop_sequences=[stop])
out["stop"] = {"sequence": stop, "expected": out["text"][: out["text"].index(stop)],
               "text": "".join(b.text for b in r.content if b.type == "text"),
               "stop_reason": r.stop_reason, "stop_sequence": r.stop_sequence}

out["count_tokens"] = client.messages.count_tokens(model="any", messages=question).input_tokens

# Tools: a forced call, its result sent back, then an answer in text.
tools = [{"name": "get_weather", "description": "Get the current weather of a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
ask = [{"role": "user", "content": "What is the weather in Paris?"}]
r = client.messages.create(model="any", max_tokens=64, extra_body=GREEDY, messages=ask, tools=tools,
                           tool_choice={"type": "tool", "name": "get_weather"})
call = next(b for b in r.content if b.type == "tool_use")
out["call"] = {"name": call.name, "input": call.input, "stop_reason": r.stop_reason}
ask += [{"role": "assistant", "content": [b.model_dump() for b in r.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C and sunny"}]}]
r = client.messages.create(model="any", max_tokens=48, extra_body=GREEDY, messages=ask, tools=tools,
                           tool_choice={"type": "none"})
out["after_result"] = {"text": "".join(b.text for b in r.content if b.type == "text"), "stop_reason": r.stop_reason}

with client.messages.stream(model="any", max_tokens=64, extra_body=GREEDY, messages=ask[:1], tools=tools,
                            tool_choice={"type": "any"}) as s:
    final = s.get_final_message()
call = next(b for b in final.content if b.type == "tool_use")
out["stream_call"] = {"name": call.name, "input": call.input, "stop_reason": final.stop_reason}

try:
    client.messages.create(model="any", max_tokens=24, messages=question,
                           thinking={"type": "enabled", "budget_tokens": 1024})
    out["thinking_error"] = None
except anthropic.BadRequestError as e:
    out["thinking_error"] = {"status": e.status_code, "type": e.body["error"]["type"]}

out["models"] = [m.id for m in client.models.list()]
print(json.dumps(out))
