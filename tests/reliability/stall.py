#!/usr/bin/env python3
"""The stall meter: does one heavy but valid request freeze everyone else?

    python3 tests/reliability/stall.py --url https://pi.local:8443 --ca edgellm-ca.crt \\
        --key KEY [--pid PID] [--short]

A bystander chat stream runs while each kind of heavy request is sent: the largest
embedding batch, the longest prompt, many tools with `auto`, the deepest and widest schema
within the limits, the largest /tokenize, the most and longest stop strings. For each kind
it prints the bystander's largest gap between two tokens while the heavy request ran,
/healthz's slowest answer (polled every 100 ms) and, with --pid, the daemon's RSS before
and after. Targets (a 2-core x86 machine): gap under 1.5 s, /healthz under 100 ms, RSS back
within 64 MiB of its level after the warm-up. --short is the CI form (smaller requests).
Exit status 1 when a target is missed (--no-targets only prints). Standard library only.
"""

import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Target  # noqa: E402

GAP_TARGET_S = 1.5
HEALTHZ_TARGET_S = 0.100
RSS_SLACK_MIB = 64

WORDS = "the quick brown fox jumps over a lazy dog while seven bright lamps glow softly".split()


def text(tokens, salt):
    """About `tokens` tokens of plain words, different for each `salt` (no prefix reuse)."""
    words = [f"{WORDS[(i * 7 + salt) % len(WORDS)]}{salt % 97}" if i % 5 == 0 else WORDS[(i + salt) % len(WORDS)] for i in range(tokens)]
    return " ".join(words)


def rss_mib(pid):
    if not pid:
        return None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


class Bystander(threading.Thread):
    """Streams chats one after another; records each token's arrival (per stream)."""

    def __init__(self, target):
        super().__init__(daemon=True)
        self.target = target
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.arrivals = []  # (stream number, time)
        self.streams = 0
        self.errors = []

    def run(self):
        while not self.stop.is_set():
            self.streams += 1
            n = self.streams
            body = {
                "messages": [{"role": "user", "content": "Count from 1 to 300, one number per line."}],
                "temperature": 0,
                "max_tokens": 400,
                "stream": True,
            }
            conn = self.target.connect(timeout=120)
            try:
                conn.request("POST", "/v1/chat/completions", body=json.dumps(body).encode(), headers=self.target.headers())
                r = conn.getresponse()
                if r.status != 200:
                    self.errors.append(f"bystander got HTTP {r.status}: {r.read()[:200]!r}")
                    time.sleep(1)
                    continue
                for line in r:
                    if self.stop.is_set():
                        break
                    if line.startswith(b"data: {") and b'"content"' in line:
                        with self.lock:
                            self.arrivals.append((n, time.monotonic()))
            except Exception as e:  # noqa: BLE001
                self.errors.append(f"bystander: {type(e).__name__}: {e}")
            finally:
                conn.close()

    def largest_gap(self, start, end):
        """The longest wait between two tokens of one stream inside [start, end]; also the
        wait from `start` to the first token after it."""
        with self.lock:
            points = [(n, t) for n, t in self.arrivals if t >= start - 5]
        gap, last = 0.0, {}
        for n, t in points:
            if n in last and t >= start and last[n] <= end:
                gap = max(gap, t - max(last[n], start))
            last[n] = t
        return gap

    def tokens_since(self, t0):
        with self.lock:
            return sum(1 for _, t in self.arrivals if t >= t0)


def heavy_kinds(short):
    """(name, method, path, body): each valid, each heavy."""
    n_embed = 4 if short else 64
    prompt_tokens = 900 if short else 1800
    n_tools = 12 if short else 40
    wide = {"type": "object", "properties": {f"f{i}": {"type": "string", "maxLength": 40} for i in range(100)}}
    deep = {"type": "integer"}
    for _ in range(20):
        deep = {"type": "object", "properties": {"a": deep, "b": {"enum": list(range(50))}}, "required": ["a"]}
    tools = [
        {"type": "function", "function": {"name": f"tool_{i}", "description": text(20, i), "parameters": {
            "type": "object", "properties": {"x": {"type": "string"}, "n": {"type": "integer"}}, "required": ["x"]}}}
        for i in range(n_tools)
    ]
    return [
        ("embedding batch", "POST", "/api/embed", {"input": [text(500, i) for i in range(n_embed)]}),
        ("long prompt", "POST", "/v1/chat/completions", {
            "messages": [{"role": "user", "content": text(prompt_tokens, 3) + "\nSay ok."}], "max_tokens": 2, "temperature": 0}),
        ("many tools (auto)", "POST", "/v1/chat/completions", {
            "messages": [{"role": "user", "content": "Use tool_3 with x = 'hi'."}], "tools": tools, "max_tokens": 40, "temperature": 0}),
        ("deep and wide schema", "POST", "/v1/chat/completions", {
            "messages": [{"role": "user", "content": "Give a JSON object."}], "max_tokens": 24, "temperature": 0,
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"anyOf": [wide, deep]}}}}),
        ("large /tokenize", "POST", "/tokenize", {"content": text(60_000 if short else 150_000, 5)}),
        ("most and longest stops", "POST", "/v1/chat/completions", {
            "messages": [{"role": "user", "content": "Write two sentences about lamps."}], "max_tokens": 40, "temperature": 0,
            "stop": ["z" * 256, "y" * 256, "q" * 256, "\u00e9" * 128]}),
    ]


def healthz_poller(target, stop, worst):
    conn = None
    while not stop.is_set():
        try:
            conn = conn or target.connect(timeout=10)
            t0 = time.monotonic()
            status, _, _, _ = target.request("GET", "/healthz", conn=conn)
            secs = time.monotonic() - t0
            worst[0] = max(worst[0], secs)
            if status != 200:
                worst[1] = f"/healthz answered {status}"
        except Exception as e:  # noqa: BLE001
            worst[1] = f"/healthz: {type(e).__name__}: {e}"
            conn = None
        time.sleep(0.1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--ca")
    p.add_argument("--insecure", action="store_true")
    p.add_argument("--key", default=os.environ.get("EDGELLM_KEY"))
    p.add_argument("--pid", type=int, help="the daemon's PID (same machine) for RSS figures")
    p.add_argument("--short", action="store_true", help="the CI form: smaller heavy requests")
    p.add_argument("--kinds", help="comma-separated subset of the kinds (by name prefix)")
    p.add_argument("--no-targets", action="store_true", help="print the figures only")
    p.add_argument("--gap-target", type=float, default=GAP_TARGET_S, help="seconds (default 1.5)")
    p.add_argument("--healthz-target", type=float, default=HEALTHZ_TARGET_S, help="seconds (default 0.1)")
    a = p.parse_args()
    target = Target(a.url, a.ca, a.key, a.insecure)
    failures = []
    kinds = heavy_kinds(a.short)
    if a.kinds:
        wanted = a.kinds.split(",")
        kinds = [k for k in kinds if any(k[0].startswith(w) for w in wanted)]
    # Warm-up: each kind once (the embedding batch as one input), so what is built once
    # (llguidance's token trie, the embedding context, KV cache pages) is not counted as growth.
    for name, method, path, body in kinds:
        if path == "/api/embed":
            body = {"input": body["input"][:1]}
        target.request(method, path, body, timeout=900)
    base_rss = rss_mib(a.pid)
    print(f"stall: {a.url}; RSS after warm-up: {base_rss and round(base_rss)} MiB")
    print(f"{'kind':<24} {'heavy s':>8} {'status':>6} {'gap s':>6} {'healthz ms':>10} {'bystander tok':>13} {'RSS MiB':>15}")
    for name, method, path, body in kinds:
        bystander = Bystander(target)
        bystander.start()
        # Wait until the bystander streams.
        deadline = time.monotonic() + 120
        while bystander.tokens_since(0) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop, worst = threading.Event(), [0.0, None]
        poller = threading.Thread(target=healthz_poller, args=(target, stop, worst), daemon=True)
        poller.start()
        before = rss_mib(a.pid)
        t0 = time.monotonic()
        try:
            status, _, data, _ = target.request(method, path, body, timeout=900)
        except Exception as e:  # noqa: BLE001
            status, data = None, str(e).encode()
        t1 = time.monotonic()
        # The bystander must also be served after the heavy request ends.
        while bystander.tokens_since(t1) < 2 and time.monotonic() < t1 + 60:
            time.sleep(0.05)
        stop.set()
        bystander.stop.set()
        poller.join()
        gap = bystander.largest_gap(t0, t1 + 0.5)
        after = rss_mib(a.pid)
        tokens = bystander.tokens_since(t0)
        rss = f"{before and round(before)} -> {after and round(after)}" if a.pid else "-"
        print(f"{name:<24} {t1 - t0:>8.1f} {status!s:>6} {gap:>6.2f} {worst[0] * 1000:>10.0f} {tokens:>13} {rss:>15}", flush=True)
        bystander.join(timeout=30)
        if status != 200:
            failures.append(f"{name}: HTTP {status}: {data[:200]!r}")
        if bystander.errors:
            failures.append(f"{name}: {bystander.errors[0]}")
        if worst[1]:
            failures.append(f"{name}: {worst[1]}")
        if not a.no_targets:
            if gap > a.gap_target:
                failures.append(f"{name}: the bystander waited {gap:.2f} s for a token (target {a.gap_target} s)")
            if worst[0] > a.healthz_target:
                failures.append(f"{name}: /healthz took {worst[0] * 1000:.0f} ms (target {a.healthz_target * 1000:.0f} ms)")
            if base_rss and after and after - base_rss > RSS_SLACK_MIB:
                failures.append(f"{name}: RSS {after:.0f} MiB, {after - base_rss:.0f} MiB over the warm-up level (target {RSS_SLACK_MIB})")
    for f in failures:
        print(f"FAIL {f}")
    print("stall: " + ("passed" if not failures else f"{len(failures)} failures"))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
