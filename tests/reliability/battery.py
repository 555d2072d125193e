#!/usr/bin/env python3
"""The reliability battery: run it against your own device.

    python3 tests/reliability/battery.py --url https://pi.local:8443 \\
        --ca edgellm-ca.crt --key "$(sudo edgellm key show --state-dir /var/lib/edgellm)"

Parts (all by default; --parts to choose):
  hostile  schema-generated hostile requests on both APIs: each gets a 200 or a 4xx in the
           API's own error shape, never a 5xx, a reset or a hang;
  schemas  the schema-compiler class ($ref chains, deep nesting, huge enums, exponential
           patterns, allOf/anyOf products, tool schemas, long stops) on both APIs: each a
           4xx naming the limit or served within the limits;
  flood    bursts, idle TLS connections, slowloris (HTTP/1.1 and HTTP/2) and slow readers
           while /healthz must answer in under a second and a normal client is served.
Before and after, the greedy answers of both APIs must be identical (the model is intact).
--short is the CI form (200 cases, 20 s flood). Only the Python standard library is used.
Exit status 0 when everything held, 1 otherwise (each failure printed on its own line).
"""

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import Target, source_range  # noqa: E402
import flood  # noqa: E402
import hostile  # noqa: E402
import schemas  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="https://host:port of the daemon")
    p.add_argument("--ca", help="CA certificate to trust (edgellm ca show); default: system roots")
    p.add_argument("--insecure", action="store_true", help="do not verify the certificate")
    p.add_argument("--key", default=os.environ.get("EDGELLM_KEY"), help="API key (or EDGELLM_KEY)")
    p.add_argument("--parts", default="hostile,schemas,flood")
    p.add_argument("--short", action="store_true", help="the CI form: 200 cases, 20 s of flood")
    p.add_argument("--cases", type=int, help="hostile cases (default 200 short, 1000 full)")
    p.add_argument("--flood-seconds", type=int, help="default 20 short, 120 full")
    p.add_argument("--idle", type=int, default=300, help="idle TLS connections during the flood")
    p.add_argument("--sources", default="", help="source addresses for the flood, e.g. 127.0.0.2-127.0.0.60 when the daemon is on loopback")
    p.add_argument("--seed", type=int, default=int(time.time()))
    a = p.parse_args()

    target = Target(a.url, a.ca, a.key, a.insecure)
    target.ca = a.ca
    rng = random.Random(a.seed)
    print(f"battery: {a.url}, seed {a.seed}")
    failures = []
    before = target.greedy()
    parts = a.parts.split(",")
    if "hostile" in parts:
        n = a.cases or (200 if a.short else 1000)
        failures += hostile.run(target, rng, n)
    if "schemas" in parts:
        failures += hostile.run_cases(target, schemas.cases(), "schemas")
    if "flood" in parts:
        seconds = a.flood_seconds or (20 if a.short else 120)
        failures += flood.Flood(target, source_range(a.sources), seconds).run(idle_count=a.idle)
        # Let the connection deadlines clear the idle sockets before comparing answers.
        time.sleep(2)
    after = target.greedy()
    if after != before:
        failures.append(f"greedy answers changed: {before!r} -> {after!r}")
    else:
        print(f"greedy answers unchanged: {after[0]!r}")
    for f in failures:
        print(f"FAIL {f}")
    print("battery: " + ("passed" if not failures else f"{len(failures)} failures"))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
