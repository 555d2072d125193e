"""JSON mode, measured: a set of prompts that ask for facts as an object, with and without
the word JSON, answered with `response_format: json_object` (JSON mode: a non-empty object)
and with an open-object schema that allows `{}` (JSON mode as it was, when a model that
wanted a newline after `{` could only close it). Greedy decoding. Prints one JSON object:
per variant, how many answers are a non-empty object carrying the asked-for fact, and the
answers.

Usage: python json_mode.py BASE_URL CA_PEM
"""
import json
import sys

import httpx

base, ca = sys.argv[1], sys.argv[2]
http = httpx.Client(base_url=base, verify=ca, timeout=300)

# (question, the fact the answer must carry): some name the object's key, some are plain
# questions, as LangChain's `json_mode` users send them.
CASES = [
    ("What is the capital of France? Give an object with the key capital.", "paris"),
    ("Which planet is the largest in the solar system? Give an object with the key planet.", "jupiter"),
    ("Who wrote Hamlet? Give an object with the key author.", "shakespeare"),
    ("Which ocean is the largest? Give an object with the key ocean.", "pacific"),
    ("What is the capital of Italy?", "rome"),
    ("What is the chemical symbol of gold?", "au"),
    ("Who painted the Mona Lisa?", "vinci"),
    ("What is the largest planet in the solar system?", "jupiter"),
]
VARIANTS = {
    # JSON mode as it is: a non-empty object.
    "json_mode": {"type": "json_object"},
    # An open object that may be empty: JSON mode as it was.
    "compact": {"type": "json_schema", "json_schema": {"name": "o", "schema": {"type": "object", "additionalProperties": True}}},
}


def good(text, fact):
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, dict) and len(value) > 0 and fact in json.dumps(value).lower()


out = {}
for name, fmt in VARIANTS.items():
    answers, hits = [], {"with_json": 0, "without_json": 0}
    for question, fact in CASES:
        for word, prompt in (("with_json", question + " Reply in JSON."), ("without_json", question)):
            r = http.post("/v1/chat/completions", json={
                "messages": [{"role": "user", "content": prompt}], "temperature": 0,
                "max_tokens": 48, "response_format": fmt}).json()
            text = r["choices"][0]["message"]["content"]
            ok = good(text, fact)
            hits[word] += ok
            answers.append({"prompt": prompt, "answer": text, "good": ok})
    out[name] = {"good": hits, "of": len(CASES), "answers": answers}
print(json.dumps(out))
