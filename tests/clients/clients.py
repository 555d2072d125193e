"""Use the official `openai` and `ollama` Python clients against edgellm, the way their docs
show, over HTTPS trusting only the server's CA. Prints one JSON object with the results;
tests/python_clients.rs compares them with the server's own greedy output.

Usage: python clients.py BASE_URL CA_PEM
"""
import json
import sys

import httpx
import ollama
import openai

base, ca = sys.argv[1], sys.argv[2]
out = {}

client = openai.OpenAI(base_url=base + "/v1", api_key="unused", http_client=httpx.Client(verify=ca))
messages = [{"role": "user", "content": "Name two planets."}]
r = client.chat.completions.create(model="any", messages=messages, temperature=0, max_tokens=24)
out["openai_chat"] = r.choices[0].message.content
out["openai_usage"] = r.usage.completion_tokens
stream = client.chat.completions.create(model="any", messages=messages, temperature=0, max_tokens=24, stream=True)
out["openai_chat_stream"] = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
c = client.completions.create(model="any", prompt="def add(a, b):", temperature=0, max_tokens=12)
out["openai_completion"] = c.choices[0].text
out["openai_models"] = [m.id for m in client.models.list()]

oc = ollama.Client(host=base, verify=ca)
r = oc.chat(model="any", messages=messages, options={"temperature": 0, "num_predict": 24})
out["ollama_chat"] = r["message"]["content"]
out["ollama_chat_stream"] = "".join(p["message"]["content"] for p in oc.chat(model="any", messages=messages, stream=True, options={"temperature": 0, "num_predict": 24}))
g = oc.generate(model="any", prompt="def add(a, b):", raw=True, options={"temperature": 0, "num_predict": 12})
out["ollama_generate_raw"] = g["response"]
out["ollama_tags"] = [m["model"] for m in oc.list()["models"]]
print(json.dumps(out))
