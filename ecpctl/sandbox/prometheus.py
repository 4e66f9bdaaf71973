"""A real Prometheus server for the sandbox (Debian's `prometheus` package, 2.4x) on loopback, with
its own data directory and a rule directory that ecpctl's rules file mode writes into.

    with PrometheusServer(directory, scrape_targets={"simulator": "127.0.0.1:PORT"},
                          alertmanager="127.0.0.1:PORT") as prom:
        prom.url             # http://127.0.0.1:PORT
        prom.rules_dir       # <directory>/rules: one file per tenant
        prom.query("up")

`--web.enable-lifecycle` lets ecpctl reload it (`POST /-/reload`) after writing rules. Short scrape
and evaluation intervals (2 s by default) make alerts fire within a test's patience.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from ecpctl.sandbox.alertmanager import ToolUnavailable, find_tool, free_port

PROMETHEUS = "prometheus"
START_TIMEOUT = 60.0


class PrometheusError(RuntimeError):
    """The sandbox's Prometheus could not start; the message ends with its log."""


def config_text(scrape_targets: Mapping[str, str], alertmanager: str | None, rules_dir: Path,
                interval: str) -> str:
    """prometheus.yml: one job per target; the simulator's own labels are kept (honor_labels), as
    for a federation source, since it speaks for every tenant's pods."""
    doc: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval,
                   "external_labels": {"sandbox": "ecpctl"}},
        "rule_files": [str(rules_dir / "*.yml"), str(rules_dir / "*.yaml")],
        "scrape_configs": [{"job_name": job, "honor_labels": True,
                            "static_configs": [{"targets": [target]}]}
                           for job, target in sorted(scrape_targets.items())],
    }
    if alertmanager:
        doc["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    # JSON is YAML, and keeps this module free of a YAML writer
    return json.dumps(doc, indent=2) + "\n"


class PrometheusServer:
    def __init__(self, directory: Path, *, scrape_targets: Mapping[str, str] | None = None,
                 alertmanager: str | None = None, interval: str = "2s",
                 binary: str | None = None, port: int = 0):
        self.binary = binary or find_tool(PROMETHEUS, "prometheus")
        self.dir = Path(directory)
        self.rules_dir = self.dir / "rules"
        self.config_file = self.dir / "prometheus.yml"
        self.log_path = self.dir / "prometheus.log"
        self.port = port
        self._proc: subprocess.Popen | None = None
        self._targets = dict(scrape_targets or {})
        self._alertmanager = alertmanager
        self._interval = interval

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> PrometheusServer:
        if self.running:
            return self
        self.rules_dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "data").mkdir(exist_ok=True)
        self.config_file.write_text(config_text(self._targets, self._alertmanager, self.rules_dir,
                                                self._interval))
        self.port = self.port or free_port()
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [self.binary, f"--config.file={self.config_file}",
                 f"--storage.tsdb.path={self.dir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle",
                 "--storage.tsdb.retention.time=2d", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise PrometheusError(f"prometheus exited with {self._proc.returncode}:\n"
                                      + self.log_tail())
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise PrometheusError("prometheus did not become ready:\n" + self.log_tail())

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    # --- API helpers ---------------------------------------------------------------------

    def query(self, expr: str) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        r.raise_for_status()
        return r.json()["data"]["result"]

    def alerts(self) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.url}/api/v1/alerts", timeout=10)
        r.raise_for_status()
        return r.json()["data"]["alerts"]


__all__ = ["PrometheusServer", "PrometheusError", "ToolUnavailable", "config_text"]
