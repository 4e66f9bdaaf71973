"""Where a sandbox keeps its files, and the record (`sandbox.json`) of a running one.

A sandbox lives in one directory (`--dir`, `$ECPCTL_SANDBOX_DIR`, else `.ecpctl/sandbox` under the
current directory); everything it starts listens on free loopback ports, so two sandboxes in two
directories run side by side.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIR_ENV = "ECPCTL_SANDBOX_DIR"


def default_dir() -> Path:
    env = os.environ.get(DIR_ENV)
    return Path(env).resolve() if env else (Path.cwd() / ".ecpctl" / "sandbox").resolve()


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def record(self) -> Path:
        return self.root / "sandbox.json"

    @property
    def env_sh(self) -> Path:
        return self.root / "env.sh"

    @property
    def project(self) -> Path:
        return self.root / "project.yaml"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def supervisor_log(self) -> Path:
        return self.root / "supervisor.log"

    @property
    def faults(self) -> Path:
        return self.root / "faults.json"

    @property
    def notifications(self) -> Path:
        return self.root / "notifications.jsonl"

    @property
    def kube_dir(self) -> Path:
        return self.root / "kube"

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def alertmanager_dir(self) -> Path:
        return self.root / "alertmanager"

    @property
    def prometheus_dir(self) -> Path:
        return self.root / "prometheus"

    @property
    def simulator_log(self) -> Path:
        return self.root / "simulator.log"

    def read_record(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.record.read_text())
        except (OSError, ValueError):
            return None

    def write_atomic(self, path: Path, text: str, mode: int = 0o600) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        tmp.chmod(mode)
        tmp.replace(path)
