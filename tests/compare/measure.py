#!/usr/bin/env python3
"""Measure edgellm against llama.cpp's llama-bench and llama-server, one process at a time.

Called by tests/compare-llama.sh, which builds the llama.cpp tools. Standard library only.
Every server this starts is killed by PID when it is done or when anything fails.
"""

import argparse
import http.client
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time

CTX = 4096
BATCH = 256
UBATCH = 128
SINGLE_TOKENS = 128
MULTI_TOKENS = 64
REPS = 3
MULTI_REPS = 2
STORY = "Write a long story about a lighthouse keeper and the sea."


def log(msg):
    print(f"== {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    """A server process plus how to reach it: plain HTTP or HTTPS with a CA file."""

    def __init__(self, name, argv, port, env, log_path, cafile=None, ready_path="/health"):
        self.name, self.port, self.ready_path = name, port, ready_path
        # One TLS context per server, as a client library keeps one.
        self.tls = ssl.create_default_context(cafile=cafile) if cafile else None
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def connection(self, timeout=600):
        if self.tls:
            return http.client.HTTPSConnection("localhost", self.port, timeout=timeout, context=self.tls)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def wait_ready(self, limit=180):
        deadline = time.time() + limit
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode}; see {self.log.name}")
            try:
                c = self.connection(timeout=5)
                c.request("GET", self.ready_path)
                if c.getresponse().status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.name} not ready after {limit} s; see {self.log.name}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def stream_chat(server, prompt, max_tokens):
    """One streamed chat completion on a new connection (TLS handshake included).
    Returns (ttft seconds, completion tokens, seconds from first to last content piece)."""
    body = json.dumps({
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    })
    start = time.perf_counter()
    conn = server.connection()
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"{server.name}: HTTP {resp.status}: {resp.read()[:300]!r}")
    first = last = None
    tokens = None
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: "):
            continue
        data = line[6:]
        if data == b"[DONE]":
            break
        chunk = json.loads(data)
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
        for choice in chunk.get("choices", []):
            if choice.get("delta", {}).get("content"):
                now = time.perf_counter()
                first = first or now
                last = now
    conn.close()
    if first is None or tokens is None:
        raise SystemExit(f"{server.name}: no content or no usage in the stream")
    return first - start, tokens, last - first


def single_stream(server):
    stream_chat(server, "Warm up: say hello.", 8)
    ttfts, rates = [], []
    for i in range(REPS):
        ttft, tokens, span = stream_chat(server, f"{STORY} (Version {i}.)", SINGLE_TOKENS)
        ttfts.append(ttft)
        rates.append((tokens - 1) / span)
    return statistics.median(ttfts), statistics.median(rates)


def four_streams(server):
    stream_chat(server, "Warm up: say hello.", 8)
    results = []
    for rep in range(MULTI_REPS):
        counts = [0] * 4
        errors = []

        def one(i):
            try:
                counts[i] = stream_chat(server, f"Stream {rep}-{i}: write about the sea.", MULTI_TOKENS)[1]
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise SystemExit(f"{server.name}: {errors[0]}")
        results.append(sum(counts) / (time.perf_counter() - start))
    return statistics.median(results)


def edgellm_server(args, parallel, env):
    port = free_port()
    state = os.path.join(args.work, "state")
    argv = [args.edgellm, "serve", "--model", args.model, "--listen", f"127.0.0.1:{port}",
            "--state-dir", state, "--threads", str(args.threads), "--ctx-size", str(CTX),
            "--parallel", str(parallel), "--batch-size", str(BATCH), "--ubatch-size", str(UBATCH)]
    e = dict(env, EDGELLM_RATE_LIMIT_PER_SECOND="0", EDGELLM_LOG_FORMAT="text")
    ca = os.path.join(args.work, "edgellm-ca.pem")
    pem = subprocess.run([args.edgellm, "ca", "show", "--state-dir", state], check=True,
                         capture_output=True, text=True).stdout
    with open(ca, "w") as f:
        f.write(pem[: pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----\n")])
    return Server(f"edgellm (HTTPS, --parallel {parallel})", argv, port, e,
                  os.path.join(args.work, f"edgellm-np{parallel}.log"), cafile=ca,
                  ready_path="/readyz")


def llama_server(args, parallel, env):
    port = free_port()
    argv = [args.llama_server, "-m", args.model, "--host", "127.0.0.1", "--port", str(port),
            "-t", str(args.threads), "-tb", str(args.threads), "-c", str(CTX),
            "-np", str(parallel), "-b", str(BATCH), "-ub", str(UBATCH)]
    return Server(f"llama-server (HTTP, -np {parallel})", argv, port, env,
                  os.path.join(args.work, f"llama-server-np{parallel}.log"))


def run_server(make, measure):
    server = make()
    try:
        server.wait_ready()
        value = measure(server)
        return value, peak_rss_mib(server.proc.pid)
    finally:
        server.stop()


def main():
    p = argparse.ArgumentParser()
    for flag in ("--edgellm", "--llama-server", "--llama-bench", "--model", "--work"):
        p.add_argument(flag, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=4)
    args = p.parse_args()
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))

    # The machine is shared and noisy: both sides run back to back in every round, in
    # alternating order, and each ratio is the median of the per-round ratios, so a slow
    # minute hurts both sides alike.
    m = {k: [] for k in ("pp", "tg", "lpp", "ltg", "ttft", "lttft", "rate", "lrate",
                         "agg", "lagg", "rss1", "lrss1", "rss4", "lrss4")}
    reports = []
    n_prompt = None

    def ours_bench():
        nonlocal n_prompt
        r = json.loads(subprocess.run(
            [args.edgellm, "bench", "--json", "--model", args.model, "--threads", str(args.threads),
             "--ctx-size", str(CTX), "--parallel", "4", "--batch-size", str(BATCH),
             "--ubatch-size", str(UBATCH), "--prompt-words", "400", "--gen-tokens", str(SINGLE_TOKENS)],
            check=True, capture_output=True, text=True, env=env).stdout)
        reports.append(r)
        n_prompt = r["prompt_tokens"]
        m["pp"].append(r["prompt_tokens_per_second"])
        m["tg"].append(r["generation_tokens_per_second"])

    def their_bench():
        b = json.loads(subprocess.run(
            [args.llama_bench, "-m", args.model, "-t", str(args.threads), "-p", str(n_prompt),
             "-n", str(SINGLE_TOKENS), "-b", str(BATCH), "-ub", str(UBATCH), "-r", "3", "-o", "json"],
            check=True, capture_output=True, text=True, env=env).stdout)
        m["lpp"].append(next(r["avg_ts"] for r in b if r["n_prompt"] > 0 and r["n_gen"] == 0))
        m["ltg"].append(next(r["avg_ts"] for r in b if r["n_gen"] > 0 and r["n_prompt"] == 0))

    def ours_single():
        (t, r), rss = run_server(lambda: edgellm_server(args, 1, env), single_stream)
        m["ttft"].append(t), m["rate"].append(r), m["rss1"].append(rss)

    def their_single():
        (t, r), rss = run_server(lambda: llama_server(args, 1, env), single_stream)
        m["lttft"].append(t), m["lrate"].append(r), m["lrss1"].append(rss)

    def ours_multi():
        a, rss = run_server(lambda: edgellm_server(args, 4, env), four_streams)
        m["agg"].append(a), m["rss4"].append(rss)

    def their_multi():
        a, rss = run_server(lambda: llama_server(args, 4, env), four_streams)
        m["lagg"].append(a), m["lrss4"].append(rss)

    pairs = [("edgellm bench / llama-bench", ours_bench, their_bench),
             ("one stream: edgellm HTTPS / llama-server HTTP", ours_single, their_single),
             ("four streams: edgellm --parallel 4 / llama-server -np 4", ours_multi, their_multi)]
    for rnd in range(1, args.rounds + 1):
        for what, ours, theirs in pairs:
            log(f"round {rnd}/{args.rounds}: {what}")
            for step in ((ours, theirs) if rnd % 2 else (theirs, ours)):
                step()

    def ratio(ed, ll, higher_better):
        per_round = [e / l if higher_better else l / e for e, l in zip(m[ed], m[ll])]
        return statistics.median(m[ed]), statistics.median(m[ll]), statistics.median(per_round)

    rows = [
        ("prompt processing tok/s", "pp", "lpp", True, f"edgellm bench vs llama-bench pp{n_prompt}"),
        ("generation tok/s", "tg", "ltg", True, f"edgellm bench vs llama-bench tg{SINGLE_TOKENS}"),
        ("TTFT s (HTTPS vs HTTP)", "ttft", "lttft", False, "new connection per request"),
        ("streamed tok/s", "rate", "lrate", True, f"{SINGLE_TOKENS} tokens"),
        ("4-stream aggregate tok/s", "agg", "lagg", True, f"{MULTI_TOKENS} tokens each"),
        ("peak RSS MiB, 1 slot", "rss1", "lrss1", False, "VmHWM of the server"),
        ("peak RSS MiB, 4 slots", "rss4", "lrss4", False, "VmHWM of the server"),
    ]
    print(f"edgellm vs llama.cpp ({os.path.basename(args.model)}, {args.threads} threads, "
          f"ctx {CTX}, batch {BATCH}, ubatch {UBATCH}, OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']})")
    print(f"{'':28}{'edgellm':>10}{'llama.cpp':>11}{'ratio':>8}  (ratio > 1 = edgellm better)")
    for name, ed, ll, higher_better, how in rows:
        e, l, r = ratio(ed, ll, higher_better)
        print(f"{name:28}{e:10.3f}{l:11.3f}{r:8.2f}  {how}")
    print(f"medians of {args.rounds} rounds (ratio: median of the per-round ratios); per round, "
          f"servers answer {REPS} requests (4 streams: {MULTI_REPS} runs)")
    med = lambda k: statistics.median(r[k] for r in reports)  # noqa: E731
    single = statistics.median(r["aggregate_tokens_per_second"][0]["tokens_per_second"] for r in reports)
    four = statistics.median(r["aggregate_tokens_per_second"][2]["tokens_per_second"] for r in reports)
    cold, warm = med("second_turn_ttft_cold_seconds"), med("second_turn_ttft_warm_seconds")
    print(f"edgellm bench: 4-stream aggregate {four:.1f} tok/s = {four / single:.2f}x single stream; "
          f"2nd turn TTFT cold {cold:.3f} s vs warm {warm:.3f} s ({cold / warm:.1f}x)")
    print("per round:")
    for k, v in m.items():
        print(f"  {k:6} {' '.join(f'{x:8.3f}' for x in v)}")


if __name__ == "__main__":
    main()
