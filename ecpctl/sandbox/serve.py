"""The sandbox's supervisor: the background process `ecpctl sandbox up` starts. It runs the control
plane, Postgres, Alertmanager, Prometheus, a webhook sink and the workload simulator, writes
`sandbox.json`, `env.sh`, `kubeconfig` and `project.yaml` into the sandbox directory, reports
components that exit, and stops everything on SIGTERM (`ecpctl sandbox down`).

    python -m ecpctl.sandbox.serve --dir DIR [--nodes N] [--gpus-per-node G]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ecpctl.sandbox import project
from ecpctl.sandbox.alertmanager import AlertmanagerServer, WebhookSink, free_port
from ecpctl.sandbox.kube import DEFAULT_NODE_CAPACITY, ControlPlane
from ecpctl.sandbox.layout import Layout
from ecpctl.sandbox.postgres import PostgresServer
from ecpctl.sandbox.prometheus import PrometheusServer

# Evaluated and scraped every 2 s, so that alerts fire and resolve within a test's patience.
INTERVAL = "2s"
# A NotReady node's pods are evicted after 30 s, not Kubernetes' 300 s default (node_down).
APISERVER_ARGS = ("--default-not-ready-toleration-seconds=30",
                  "--default-unreachable-toleration-seconds=30")
SINK_PATH = "default"

ALERTMANAGER_BASE = """\
# The sandbox's Alertmanager. ecpctl's file mode merges each tenant's receivers and routes into
# this file; alerts no tenant route takes go to the sandbox's own webhook sink.
global:
  resolve_timeout: 5m
  smtp_smarthost: 127.0.0.1:25
  smtp_from: alertmanager@sandbox.invalid
  smtp_require_tls: false
route:
  receiver: sandbox-default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: sandbox-default
    webhook_configs:
      - url: {sink}
        send_resolved: true
"""


def _log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


class Supervisor:
    def __init__(self, layout: Layout, nodes: int, gpus_per_node: int, gpu_product: str):
        self.layout = layout
        capacity = dict(DEFAULT_NODE_CAPACITY)
        capacity["nvidia.com/gpu"] = str(gpus_per_node)
        self.cp = ControlPlane(nodes=nodes, node_capacity=capacity, install_crds=True,
                               workdir=layout.kube_dir, apiserver_args=APISERVER_ARGS,
                               build_if_missing=False, gpu_product=gpu_product)
        self.pg: PostgresServer | None = None
        self.am: AlertmanagerServer | None = None
        self.prom: PrometheusServer | None = None
        self.sink: WebhookSink | None = None
        self.sim: subprocess.Popen | None = None
        self.sim_port = 0
        self.nodes, self.gpus_per_node = nodes, gpus_per_node

    def start(self) -> dict[str, Any]:
        lay = self.layout
        t0 = time.monotonic()
        self.cp.start()
        _log(f"control plane up in {time.monotonic() - t0:.1f}s at {self.cp.server}")
        lay.write_atomic(lay.kubeconfig, self.cp.kubeconfig.read_text())

        self.pg = PostgresServer()
        self.pg.start()
        _log(f"postgres up on port {self.pg.port}")

        self.sink = WebhookSink(record_to=lay.notifications)
        self.am = AlertmanagerServer(ALERTMANAGER_BASE.replace("{sink}", self.sink.url(SINK_PATH)),
                                     directory=lay.alertmanager_dir)
        self.am.start()
        _log(f"alertmanager up at {self.am.url}")

        self.sim_port = free_port()
        self._start_simulator()
        self.prom = PrometheusServer(lay.prometheus_dir, interval=INTERVAL,
                                     scrape_targets={"ecp-sandbox-simulator":
                                                     f"127.0.0.1:{self.sim_port}"},
                                     alertmanager=self.am.url.removeprefix("http://"))
        self.prom.start()
        _log(f"prometheus up at {self.prom.url}")

        lay.write_atomic(lay.project, project.project_yaml(
            kubeconfig=lay.kubeconfig, alertmanager_file=self.am.config_file,
            alertmanager_url=self.am.url, prometheus_url=self.prom.url,
            rules_dir=self.prom.rules_dir), mode=0o644)
        exports = {"KUBECONFIG": str(lay.kubeconfig), "ECPCTL_POSTGRES_DSN": self.pg.admin_dsn,
                   "ECPCTL_SANDBOX_DIR": str(lay.root), "ECPCTL_PROMETHEUS_URL": self.prom.url,
                   "ALERTMANAGER_URL": self.am.url}
        lay.write_atomic(lay.env_sh, "".join(f"export {k}='{v}'\n" for k, v in exports.items())
                         + f"export PATH='{self.cp.bin_dir}':\"$PATH\"\n")
        return {
            "ready": True,
            "supervisor_pid": os.getpid(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "dir": str(lay.root),
            "nodes": self.nodes, "gpus_per_node": self.gpus_per_node,
            "server": self.cp.server, "kubeconfig": str(lay.kubeconfig),
            "kubectl": str(self.cp.binaries["kubectl"]),
            "binaries": self.cp.resolution.describe() if self.cp.resolution else [],
            "postgres_dsn": self.pg.admin_dsn, "postgres_dir": str(self.pg.root),
            "alertmanager_url": self.am.url, "alertmanager_config": str(self.am.config_file),
            "prometheus_url": self.prom.url, "rules_dir": str(self.prom.rules_dir),
            "simulator_url": f"http://127.0.0.1:{self.sim_port}",
            "sink_url": self.sink.url(SINK_PATH),
            "project": str(lay.project), "env": str(lay.env_sh),
            "log_dir": str(self.cp.log_dir),
            "pids": self.pids(),
        }

    def _start_simulator(self) -> None:
        c = self.cp.certs
        assert c is not None
        with open(self.layout.simulator_log, "ab") as log:
            self.sim = subprocess.Popen(
                [sys.executable, "-m", "ecpctl.sandbox.simulator", "--port", str(self.sim_port),
                 "--server", self.cp.server, "--ca", str(c.ca_crt), "--cert", str(c.admin_crt),
                 "--key", str(c.admin_key), "--faults", str(self.layout.faults)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def pids(self) -> dict[str, int]:
        out = dict(self.cp.pids())
        for name, pid in (("alertmanager", self.am and self.am.pid),
                          ("prometheus", self.prom and self.prom.pid),
                          ("simulator", self.sim and self.sim.poll() is None and self.sim.pid)):
            if pid:
                out[name] = pid
        return out

    def watch(self, expected: dict[str, int]) -> None:
        reported: set[str] = set()
        while True:
            time.sleep(2)
            if self.sim is not None and self.sim.poll() is not None and "simulator" not in reported:
                # the simulator holds no state worth keeping: restart it once it has died
                _log(f"simulator exited ({self.sim.returncode}); restarting it, see "
                     f"{self.layout.simulator_log}")
                self._start_simulator()
            alive = self.pids()
            for name in expected:
                if name not in alive and name not in reported:
                    reported.add(name)
                    _log(f"{name} exited; see the logs in {self.layout.root}")

    def stop(self) -> None:
        if self.sim is not None and self.sim.poll() is None:
            self.sim.terminate()
            try:
                self.sim.wait(10)
            except subprocess.TimeoutExpired:
                self.sim.kill()
        for closer in (self.prom and self.prom.stop, self.am and self.am.stop,
                       self.sink and self.sink.close, self.pg and self.pg.cleanup, self.cp.stop):
            if closer:
                try:
                    closer()
                except Exception as exc:  # noqa: BLE001 - stop the rest whatever one does
                    _log(f"while stopping: {exc}")


def serve(layout: Layout, nodes: int, gpus_per_node: int, gpu_product: str) -> int:
    def on_signal(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    sup = Supervisor(layout, nodes, gpus_per_node, gpu_product)
    try:
        record = sup.start()
        layout.write_atomic(layout.record, json.dumps(record, indent=2) + "\n")
        _log("sandbox ready")
        sup.watch(record["pids"])
    finally:
        sup.stop()
        for p in (layout.record, layout.kubeconfig, layout.env_sh, layout.project, layout.faults):
            p.unlink(missing_ok=True)
        for d in (layout.kube_dir, layout.prometheus_dir, layout.alertmanager_dir):
            shutil.rmtree(d, ignore_errors=True)
        _log("sandbox stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ecpctl.sandbox.serve")
    p.add_argument("--dir", required=True)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--gpus-per-node", type=int, default=2)
    p.add_argument("--gpu-product", default="Tesla-T4")
    a = p.parse_args(argv)
    return serve(Layout(Path(a.dir)), a.nodes, a.gpus_per_node, a.gpu_product)


if __name__ == "__main__":
    sys.exit(main())
