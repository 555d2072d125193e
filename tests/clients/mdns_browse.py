"""Browse DNS-SD with python-zeroconf for edgellm's services, the way a client on the LAN
finds it. Prints one JSON object per line: {"event": "added", "type", "name", "port",
"server", "addresses", "txt"} when a service is resolved, {"event": "removed", ...} when it
says goodbye. Runs until SECONDS pass or stdin closes.

Usage: python mdns_browse.py SECONDS
"""
import json
import sys
import threading
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceStateChange, Zeroconf

TYPES = ["_https._tcp.local.", "_ollama._tcp.local."]


def on_change(zeroconf, service_type, name, state_change):
    if state_change is ServiceStateChange.Removed:
        print(json.dumps({"event": "removed", "type": service_type, "name": name}), flush=True)
        return
    if state_change is not ServiceStateChange.Added:
        return
    info = zeroconf.get_service_info(service_type, name, timeout=5000)
    if info is None:
        print(json.dumps({"event": "unresolved", "type": service_type, "name": name}), flush=True)
        return
    txt = {k.decode(): (v.decode() if v is not None else None) for k, v in info.properties.items()}
    print(json.dumps({
        "event": "added", "type": service_type, "name": name, "port": info.port,
        "server": info.server, "addresses": info.parsed_addresses(), "txt": txt,
    }), flush=True)


zc = Zeroconf(ip_version=IPVersion.V4Only)
browser = ServiceBrowser(zc, TYPES, handlers=[on_change])
print(json.dumps({"event": "browsing"}), flush=True)
stdin_closed = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stdin_closed.set()), daemon=True).start()
deadline = time.time() + float(sys.argv[1])
while time.time() < deadline and not stdin_closed.is_set():
    time.sleep(0.1)
zc.close()
