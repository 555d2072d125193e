#!/usr/bin/env python3
"""Soak: mixed traffic for a long time; prints the daemon's RSS growth and latency
percentiles. Not part of CI (it takes 30 minutes by default).

    python3 tests/reliability/soak.py --url https://pi.local:8443 --ca edgellm-ca.crt \\
        --key "$(sudo edgellm key show --state-dir /var/lib/edgellm)" --minutes 30

Traffic, from a few client threads in turn: OpenAI chat (plain and streamed, with stop
strings and JSON mode), text completions, Ollama generate and chat, multi-turn chats that
reuse the prefix cache, clients that leave mid-stream, bad requests, probes and metrics.
RSS is read from /metrics (edgellm_process_resident_memory_bytes) every 10 s; growth is
measured from the end of the first minute (warm-up: caches and allocator pools fill).
Target: growth <= 5 MB.
"""

import argparse
import json
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Target, percentile  # noqa: E402

TOPICS = ["the sea", "a lighthouse", "prime numbers", "Rust", "a cat", "the moon", "bread", "rain"]


def rss(target):
    s, _, b, _ = target.request("GET", "/metrics")
    m = re.search(rb"^edgellm_process_resident_memory_bytes (\S+)$", b, re.M)
    return float(m.group(1)) if s == 200 and m else None


def one(target, rng, stats):
    kind = rng.choice(["chat", "stream", "json", "completion", "generate", "ollama_chat", "turns", "leave", "bad", "probe"])
    topic = rng.choice(TOPICS)
    started = time.monotonic()
    status = None
    if kind == "chat":
        status, _, _, _ = target.request("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": f"One sentence about {topic}."}], "max_tokens": 24, "stop": ["\n\n"]})
    elif kind == "stream":
        status, _, _, _ = target.request("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": f"Two sentences about {topic}."}], "max_tokens": 32, "stream": True, "stream_options": {"include_usage": True}})
    elif kind == "json":
        status, _, _, _ = target.request("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": f"{topic} as JSON."}], "max_tokens": 24, "response_format": {"type": "json_object"}, "repeat_penalty": 1.1})
    elif kind == "completion":
        status, _, _, _ = target.request("POST", "/v1/completions", {"prompt": f"Facts about {topic}:", "max_tokens": 16})
    elif kind == "generate":
        status, _, _, _ = target.request("POST", "/api/generate", {"prompt": f"A haiku about {topic}.", "stream": rng.random() < 0.5, "options": {"num_predict": 24}})
    elif kind == "ollama_chat":
        status, _, _, _ = target.request("POST", "/api/chat", {"messages": [{"role": "user", "content": f"Hi, tell me about {topic}."}], "stream": False, "options": {"num_predict": 16}})
    elif kind == "turns":
        msgs = [{"role": "user", "content": f"Let's talk about {topic}."}]
        for _ in range(2):
            status, _, b, _ = target.request("POST", "/v1/chat/completions", {"messages": msgs, "max_tokens": 16, "temperature": 0})
            if status != 200:
                break
            msgs += [json.loads(b)["choices"][0]["message"], {"role": "user", "content": "And then?"}]
    elif kind == "leave":
        conn = target.connect()
        conn.request("POST", "/v1/chat/completions", body=json.dumps({"messages": [{"role": "user", "content": f"A long story about {topic}."}], "max_tokens": 200, "stream": True}), headers=target.headers())
        r = conn.getresponse()
        r.read(200)
        conn.close()
        status = r.status
    elif kind == "bad":
        status, _, _, _ = target.request("POST", "/v1/chat/completions", {"messages": [], "temperature": 9})
        status = 200 if status == 400 else status
    else:
        status, _, _, _ = target.request("GET", rng.choice(["/healthz", "/readyz", "/v1/models", "/api/tags"]))
    secs = time.monotonic() - started
    with stats["lock"]:
        stats["latency"].setdefault(kind, []).append(secs)
        if status not in (200, 429):
            stats["errors"].append(f"{kind}: HTTP {status}")
        stats["requests"] += 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--ca")
    p.add_argument("--key", default=os.environ.get("EDGELLM_KEY"))
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--clients", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    target = Target(a.url, a.ca, a.key)
    stats = {"lock": threading.Lock(), "latency": {}, "errors": [], "requests": 0}
    stop = threading.Event()

    def client(i):
        rng = random.Random(a.seed * 100 + i)
        while not stop.is_set():
            try:
                one(target, rng, stats)
            except Exception as e:  # noqa: BLE001
                with stats["lock"]:
                    stats["errors"].append(f"{type(e).__name__}: {e}")
                time.sleep(1)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(a.clients)]
    for t in threads:
        t.start()
    started = time.monotonic()
    samples = []
    end = started + a.minutes * 60
    while time.monotonic() < end:
        time.sleep(10)
        r = rss(target)
        if r:
            samples.append((time.monotonic() - started, r))
            print(f"{samples[-1][0]:7.0f} s  RSS {r / 2**20:7.1f} MiB  requests {stats['requests']}", flush=True)
    stop.set()
    for t in threads:
        t.join(timeout=300)
    warm = [r for t, r in samples if t >= 60] or [r for _, r in samples]
    growth = (warm[-1] - warm[0]) / 1e6 if warm else float("nan")
    peak = max(r for _, r in samples) / 2**20 if samples else float("nan")
    every = [x for v in stats["latency"].values() for x in v]
    print(f"soak: {a.minutes:g} min, {stats['requests']} requests, {len(stats['errors'])} errors")
    print(f"RSS after warm-up {warm[0] / 2**20:.1f} MiB -> end {warm[-1] / 2**20:.1f} MiB: growth {growth:+.2f} MB (target <= 5 MB); peak {peak:.1f} MiB")
    print(f"latency all requests: p50 {percentile(every, 50):.2f} s, p99 {percentile(every, 99):.2f} s")
    for kind, v in sorted(stats["latency"].items()):
        print(f"  {kind:12} n={len(v):5}  p50 {percentile(v, 50):6.2f} s  p99 {percentile(v, 99):6.2f} s")
    for e in stats["errors"][:10]:
        print(f"error: {e}")
    return 0 if growth <= 5 and not stats["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
