"""A sandbox started through the CLI for the sandbox's integration tests (`ecpctl sandbox up` in a
temporary directory), the commands run against it, and polling of the live systems with a
deadline."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ecpctl.sandbox.alertmanager import WebhookSink


def ensure_binaries() -> None:
    """Build the control-plane binaries that are missing, in this process and before any command
    runs: a first build takes many minutes, longer than a command's timeout."""
    from tests.testenv.pytest_kube import _build_with_progress
    _build_with_progress()


class Sandbox:
    """One sandbox in `root/sandbox`, the specs applied to it in `root/specs`, state in
    `root/state`; `ecpctl` runs with the sandbox's environment once it is up."""

    def __init__(self, root: Path):
        self.root = root
        self.dir = root / "sandbox"
        self.specs = root / "specs"
        self.data = root / "state"
        self.env: dict[str, str] = {}
        self.rec: dict[str, Any] = {}

    def ecpctl(self, *args: str, check: bool = True, timeout: float = 300
               ) -> subprocess.CompletedProcess:
        out = subprocess.run([sys.executable, "-m", "ecpctl.cli.main", *args], capture_output=True,
                             text=True, timeout=timeout, env=self.env or None, cwd=self.root)
        if check and out.returncode != 0:
            raise AssertionError(f"ecpctl {' '.join(args)} exited {out.returncode}:\n"
                                 f"{out.stdout}\n{out.stderr}")
        return out

    def up(self) -> None:
        ensure_binaries()
        self.ecpctl("sandbox", "up", "--dir", str(self.dir))
        exports = dict(re.findall(r"^export (\w+)='([^']*)'$",
                                  (self.dir / "env.sh").read_text(), re.M))
        self.rec = json.loads((self.dir / "sandbox.json").read_text())
        self.env = {**os.environ, **exports,
                    "PATH": f"{Path(self.rec['kubectl']).parent}:{os.environ['PATH']}"}

    def sla(self, *args: str) -> tuple[int, dict[str, Any]]:
        out = self.ecpctl("sla", "--path", str(self.specs), "--json", *args, check=False)
        assert out.returncode in (0, 3), out.stdout + out.stderr
        doc = json.loads(out.stdout)
        return out.returncode, {t["tenant"]: t for t in doc["tenants"]}

    def prom_alerts(self) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.rec['prometheus_url']}/api/v1/alerts", timeout=10)
        return r.json()["data"]["alerts"]

    def am_alerts(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.rec['alertmanager_url']}/api/v2/alerts", timeout=10).json()


def until(what: str, check: Callable[[], Any], timeout: float, every: float = 2.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def firing(alerts: list[dict[str, Any]], tenant: str, name: str, **labels: str) -> bool:
    return any(a["labels"].get("alertname") == name and a["labels"].get("tenant_id") == tenant
               and a["state"] == "firing"
               and all(a["labels"].get(k) == v for k, v in labels.items()) for a in alerts)


def delivered(sink: WebhookSink, tenant: str, name: str, status: str = "firing") -> bool:
    return any(alert["labels"].get("alertname") == name and alert["status"] == status
               for payload in sink.received(f"{tenant}/ops") for alert in payload["alerts"])
