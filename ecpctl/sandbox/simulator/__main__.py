"""The simulator process (started by the sandbox's supervisor): every second it reads ecpctl's
Deployments, pods and nodes from the API server, carries out the active faults, advances the
simulation, and serves the result on `/metrics`; `/healthz` says it is alive.

    python -m ecpctl.sandbox.simulator --port P --server URL --ca F --cert F --key F --faults FILE
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ecpctl.sandbox import faults as faultfile
from ecpctl.sandbox.simulator.cluster import Cluster
from ecpctl.sandbox.simulator.exposition import render
from ecpctl.sandbox.simulator.model import Effects, Simulation

TICK = 1.0


def effects_of(active: list[faultfile.Fault], workloads) -> dict[tuple[str, str], Effects]:
    out = {}
    for w in workloads:
        mine = [f.scenario for f in active if f.covers(w.tenant, w.service)]
        out[(w.tenant, w.service)] = Effects(cpu_spike="cpu_spike" in mine,
                                             latency="latency" in mine,
                                             error_burst="error_burst" in mine)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ecpctl.sandbox.simulator")
    for opt in ("--server", "--ca", "--cert", "--key", "--faults"):
        p.add_argument(opt, required=True)
    p.add_argument("--port", type=int, required=True)
    a = p.parse_args(argv)
    cluster = Cluster(a.server, a.ca, a.cert, a.key)
    sim = Simulation()
    lock = threading.Lock()
    page = {"text": ""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.startswith("/metrics"):
                with lock:
                    body = page["text"].encode()
                ctype = "text/plain; version=0.0.4; charset=utf-8"
            elif self.path.startswith("/healthz"):
                body, ctype = b"ok\n", "text/plain"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"simulator serving on 127.0.0.1:{a.port}", flush=True)
    last = time.monotonic()
    while True:
        try:
            active = faultfile.expire(Path(a.faults))
            pods, nodes = cluster.pods(), cluster.nodes()
            cluster.reconcile(active, pods, nodes)
            workloads = cluster.workloads(pods)
            now = time.monotonic()
            with lock:
                sim.tick(workloads, effects_of(active, workloads), now - last)
                page["text"] = render(sim, workloads)
            last = now
        except Exception as exc:  # noqa: BLE001 - an API hiccup must not end the simulation
            print(f"{time.strftime('%H:%M:%S')} tick failed: {exc.__class__.__name__}: {exc}",
                  flush=True)
        time.sleep(TICK)


if __name__ == "__main__":
    sys.exit(main())
