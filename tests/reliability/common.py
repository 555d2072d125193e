"""Shared by the reliability scripts: HTTPS requests to an edgellm daemon with only the
Python standard library, so they run on any machine with python3 (including the device)."""

import http.client
import json
import ssl
import time
import urllib.parse


class Target:
    """Where the daemon is and how to talk to it."""

    def __init__(self, url, ca=None, key=None, insecure=False):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "https":
            raise SystemExit(f"battery: {url}: only https:// URLs are supported")
        self.host = u.hostname
        self.port = u.port or 443
        self.key = key
        if insecure:
            self.ctx = ssl._create_unverified_context()  # noqa: S323 (explicit flag)
        else:
            self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.set_alpn_protocols(["http/1.1"])

    def connect(self, source=None, timeout=60):
        return http.client.HTTPSConnection(
            self.host,
            self.port,
            context=self.ctx,
            timeout=timeout,
            source_address=(source, 0) if source else None,
        )

    def headers(self, extra=None):
        h = {"Content-Type": "application/json"}
        if self.key:
            h["Authorization"] = f"Bearer {self.key}"
        h.update(extra or {})
        return h

    def request(self, method, path, body=None, source=None, timeout=120, conn=None, headers=None):
        """One request; returns (status, headers, body bytes, seconds)."""
        own = conn is None
        conn = conn or self.connect(source, timeout)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        started = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=self.headers(headers))
            r = conn.getresponse()
            data = r.read()
            return r.status, dict(r.getheaders()), data, time.monotonic() - started
        finally:
            if own:
                conn.close()

    def greedy(self, source=None):
        """The server's greedy answers on both APIs (a fingerprint of a healthy model)."""
        chat = {
            "messages": [{"role": "user", "content": "Name three prime numbers."}],
            "temperature": 0,
            "max_tokens": 16,
        }
        s, _, b, _ = self.request("POST", "/v1/chat/completions", chat, source)
        if s != 200:
            raise AssertionError(f"greedy chat: HTTP {s}: {b[:300]!r}")
        openai = json.loads(b)["choices"][0]["message"]["content"]
        gen = {
            "prompt": "Name three prime numbers.",
            "stream": False,
            "options": {"temperature": 0, "num_predict": 16},
        }
        s, _, b, _ = self.request("POST", "/api/generate", gen, source)
        if s != 200:
            raise AssertionError(f"greedy generate: HTTP {s}: {b[:300]!r}")
        return openai, json.loads(b)["response"]


def source_range(spec):
    """'127.0.0.2-127.0.0.60' -> a list of addresses; '' -> [None]."""
    if not spec:
        return [None]
    if "-" not in spec:
        return [spec]
    lo, hi = spec.split("-")
    a, b = lo.rsplit(".", 1), hi.rsplit(".", 1)
    if a[0] != b[0]:
        raise SystemExit("battery: --sources must stay within one /24, e.g. 127.0.0.2-127.0.0.60")
    return [f"{a[0]}.{i}" for i in range(int(a[1]), int(b[1]) + 1)]


def percentile(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
