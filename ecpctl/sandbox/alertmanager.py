"""A real Alertmanager for the sandbox and the tests (Debian's `prometheus-alertmanager`, 0.25), plus
a loopback webhook sink that records what it delivers, and a promtool runner.

    with AlertmanagerServer(config_text) as am:
        am.url                  # http://127.0.0.1:PORT
        am.config_file          # the file it loads; ecpctl's file mode edits it
        am.post_alert({"alertname": "x", "tenant_id": "acme"})

Loopback only, a random port, clustering disabled (`--cluster.listen-address=`), storage in a
temporary directory (or the `directory` given, which is then the sandbox's and kept).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ALERTMANAGER = "prometheus-alertmanager"      # Debian's name for the binary
AMTOOL = "amtool"
PROMTOOL = "promtool"
START_TIMEOUT = 30.0

# A base config as an operator might have it: a default receiver, one route of their own, and
# short group timings so that notifications arrive within a test's patience.
BASE_CONFIG = """\
# The operator's Alertmanager config; ecpctl adds tenant receivers and routes to it.
global:
  resolve_timeout: 5m
  smtp_smarthost: 127.0.0.1:25       # tenant email receivers need the operator's mail relay
  smtp_from: alertmanager@example.com
  smtp_require_tls: false
route:
  receiver: operator-default      # everything that no tenant route takes
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: operator-oncall
      matchers: ['team="platform"']
receivers:
  - name: operator-default
  - name: operator-oncall
    webhook_configs:
      - url: http://127.0.0.1:9/oncall   # nothing listens: the operator's own, untouched
"""


class ToolUnavailable(RuntimeError):
    """A monitoring binary is not installed."""


def find_tool(name: str, package: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        raise ToolUnavailable(f"{name} not found; install the Debian package `{package}` "
                              f"(apt-get install -y {package})")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AlertmanagerError(RuntimeError):
    """The test Alertmanager could not start; the message ends with its log."""


class AlertmanagerServer:
    def __init__(self, config: str = BASE_CONFIG, *, binary: str | None = None,
                 directory: Path | None = None):
        self.binary = binary or find_tool(ALERTMANAGER, "prometheus-alertmanager")
        self._own_dir = directory is None
        self._dir = Path(tempfile.mkdtemp(prefix="ecpctl-am-")) if directory is None else Path(directory)
        self._dir.mkdir(parents=True, exist_ok=True)
        self.config_file = self._dir / "alertmanager.yml"
        if not self.config_file.exists() or self._own_dir:
            self.config_file.write_text(config)
        self.port = 0
        self._proc: subprocess.Popen | None = None
        self._log = self._dir / "alertmanager.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> AlertmanagerServer:
        if self.running:
            return self
        self.port = self.port or free_port()
        (self._dir / "data").mkdir(exist_ok=True)
        log = open(self._log, "ab")
        self._proc = subprocess.Popen(
            [self.binary, f"--config.file={self.config_file}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=",
             f"--storage.path={self._dir / 'data'}", "--log.level=debug"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise AlertmanagerError(f"alertmanager exited with {self._proc.returncode}:\n"
                                        + self.log_tail())
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AlertmanagerError("alertmanager did not become ready:\n" + self.log_tail())

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> AlertmanagerServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    # --- API helpers -------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/api/v2/status", timeout=5).json()

    def running_config(self) -> str:
        return self.status()["config"]["original"]

    def post_alert(self, labels: dict[str, str], annotations: dict[str, str] | None = None) -> None:
        body = [{"labels": labels, "annotations": annotations or {}}]
        r = httpx.post(f"{self.url}/api/v2/alerts", json=body, timeout=5)
        r.raise_for_status()


class WebhookSink:
    """A loopback HTTP server that records every Alertmanager webhook payload by path.

    `url(path)` is what a receiver posts to; `received(path)` the payloads that arrived there.
    """

    def __init__(self, record_to: Path | None = None, port: int = 0) -> None:
        sink = self
        self._record_to = record_to
        self._lock = threading.Lock()
        self._payloads: list[tuple[str, dict]] = []
        self._arrived = threading.Condition(self._lock)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                with sink._arrived:
                    sink._payloads.append((self.path, body))
                    if sink._record_to is not None:
                        with open(sink._record_to, "a", encoding="utf-8") as f:
                            f.write(json.dumps({"path": self.path, "received": time.time(),
                                                "payload": body}) + "\n")
                    sink._arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def received(self, path: str | None = None) -> list[dict]:
        with self._lock:
            return [b for p, b in self._payloads if path is None or p == "/" + path.lstrip("/")]

    def wait_for(self, path: str, *, timeout: float = 15.0, count: int = 1) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                got = [b for p, b in self._payloads if p == "/" + path.lstrip("/")]
                left = deadline - time.monotonic()
                if len(got) >= count or left <= 0:
                    return got
                self._arrived.wait(left)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def run_promtool(*args: str, cwd: str | os.PathLike | None = None,
                 promtool: str | None = None) -> subprocess.CompletedProcess:
    tool = promtool or find_tool(PROMTOOL, "prometheus")
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
