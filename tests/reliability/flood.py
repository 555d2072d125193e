"""Flood: while bursts from many source addresses, hundreds of idle TLS connections,
slowloris clients on HTTP/1.1 and HTTP/2 and slow readers hit the daemon, a probe must
answer /healthz in under a second and a normal client must be served throughout."""

import json
import socket
import ssl
import threading
import time

from common import percentile

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def tls_socket(target, source, alpn):
    ctx = ssl.create_default_context(cafile=target.ca) if target.ca else ssl._create_unverified_context()
    ctx.set_alpn_protocols([alpn])
    raw = socket.create_connection((target.host, target.port), timeout=15, source_address=(source, 0) if source else None)
    return ctx.wrap_socket(raw, server_hostname=target.host)


class Flood:
    def __init__(self, target, sources, seconds, log=print):
        self.t, self.sources, self.seconds, self.log = target, sources, seconds, log
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.health = []  # seconds per /healthz
        self.health_failures = []
        self.normal_ok = 0
        self.normal_failures = []
        self.stats = {"burst": 0, "burst_429": 0, "idle": 0, "slowloris_cut": 0, "slow_readers": 0}
        self.sockets = []

    def src(self, i):
        return self.sources[i % len(self.sources)]

    # --- what must keep working -----------------------------------------------------
    def probe(self):
        conn = None
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                conn = conn or self.t.connect(None, timeout=10)
                status, _, _, _ = self.t.request("GET", "/healthz", conn=conn)
                secs = time.monotonic() - started
                with self.lock:
                    self.health.append(secs)
                if status != 200:
                    self.health_failures.append(f"/healthz HTTP {status}")
            except Exception as e:  # noqa: BLE001
                conn = None
                self.health_failures.append(f"/healthz {type(e).__name__}: {e}")
            time.sleep(0.2)

    def normal_client(self):
        body = {"messages": [{"role": "user", "content": "Say hi."}], "temperature": 0, "max_tokens": 4}
        while not self.stop.is_set():
            pause = 0.5
            try:
                status, headers, data, _ = self.t.request("POST", "/v1/chat/completions", body, timeout=60)
                if status == 200:
                    self.normal_ok += 1
                elif status == 429:
                    # Its address's bucket is empty (e.g. right after the hostile part): a
                    # polite client waits as told; that is the limiter working, not a failure.
                    pause = float(headers.get("retry-after", headers.get("Retry-After", "1")))
                else:
                    self.normal_failures.append(f"HTTP {status}: {data[:120]!r}")
            except Exception as e:  # noqa: BLE001
                self.normal_failures.append(f"{type(e).__name__}: {e}")
            time.sleep(pause)

    # --- the attackers ----------------------------------------------------------------
    def burst(self, i):
        src = self.src(i)
        while not self.stop.is_set():
            for _ in range(20):
                try:
                    status, _, _, _ = self.t.request("GET", "/v1/models", source=src, timeout=10)
                    with self.lock:
                        self.stats["burst"] += 1
                        self.stats["burst_429"] += status == 429
                except Exception:  # noqa: BLE001 (refused connections are fine)
                    pass
            self.stop.wait(1.0)

    def idle(self, count):
        for i in range(count):
            if self.stop.is_set():
                return
            try:
                s = tls_socket(self.t, self.src(i), "http/1.1")
                self.sockets.append(s)
                with self.lock:
                    self.stats["idle"] += 1
            except Exception:  # noqa: BLE001 (the per-client cap closes some at once)
                pass

    def slowloris(self, i, alpn):
        try:
            s = tls_socket(self.t, self.src(i), alpn)
        except Exception:  # noqa: BLE001
            return
        data = H2_PREFACE if alpn == "h2" else b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 200
        try:
            for b in data:
                if self.stop.is_set():
                    break
                s.send(bytes([b]))
                time.sleep(0.5)
        except OSError:
            with self.lock:
                self.stats["slowloris_cut"] += 1
        finally:
            s.close()

    def slow_reader(self, i):
        src = self.src(i + 7)
        body = json.dumps({"messages": [{"role": "user", "content": "Write a long story."}], "max_tokens": 64, "stream": True}).encode()
        try:
            raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            if src:
                raw.bind((src, 0))
            raw.settimeout(15)
            raw.connect((self.t.host, self.t.port))
            ctx = ssl.create_default_context(cafile=self.t.ca) if self.t.ca else ssl._create_unverified_context()
            s = ctx.wrap_socket(raw, server_hostname=self.t.host)
            head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: {self.t.host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            if self.t.key:
                head += f"Authorization: Bearer {self.t.key}\r\n"
            s.sendall(head.encode() + b"\r\n" + body)
            with self.lock:
                self.stats["slow_readers"] += 1
            self.sockets.append(s)  # never read
        except Exception:  # noqa: BLE001
            pass

    def run(self, idle_count=300, burst_threads=8, slowloris_count=20, slow_readers=4):
        threads = [threading.Thread(target=self.probe, daemon=True), threading.Thread(target=self.normal_client, daemon=True)]
        threads += [threading.Thread(target=self.burst, args=(i,), daemon=True) for i in range(burst_threads)]
        threads += [threading.Thread(target=self.idle, args=(idle_count,), daemon=True)]
        threads += [threading.Thread(target=self.slowloris, args=(i, "h2" if i % 2 else "http/1.1"), daemon=True) for i in range(slowloris_count)]
        threads += [threading.Thread(target=self.slow_reader, args=(i,), daemon=True) for i in range(slow_readers)]
        for t in threads:
            t.start()
        time.sleep(self.seconds)
        self.stop.set()
        for t in threads:
            t.join(timeout=20)
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass
        failures = []
        worst = max(self.health) if self.health else 0.0
        self.log(
            f"flood: {self.seconds} s; /healthz p50 {percentile(self.health, 50)*1000:.0f} ms, p99 {percentile(self.health, 99)*1000:.0f} ms, "
            f"max {worst*1000:.0f} ms over {len(self.health)} probes; normal client {self.normal_ok} ok, {len(self.normal_failures)} failed; "
            f"bursts {self.stats['burst']} requests ({self.stats['burst_429']} got 429); {self.stats['idle']} idle TLS connections; "
            f"{slowloris_count} slowloris ({self.stats['slowloris_cut']} cut off while sending); {self.stats['slow_readers']} slow readers"
        )
        if worst >= 1.0:
            failures.append(f"/healthz took {worst:.2f} s (limit 1 s)")
        failures += self.health_failures[:5]
        if self.normal_ok == 0:
            failures.append("the normal client was never served")
        failures += self.normal_failures[:5]
        return failures
