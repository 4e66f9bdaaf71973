"""Failure scenarios: what each one changes and which alert should fire, and the sandbox's record of
the active ones (`faults.json`), which `ecpctl sandbox fault` writes and the simulator carries out
(on the simulated traffic, and on pods and nodes through the API server and kwok).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

CRASH_ANNOTATION = "sandbox.ecp.ai/fault"          # pods: "crash" -> kwok stage makes them unready
GPUS_LOST_ANNOTATION = "sandbox.ecp.ai/gpus-lost"  # nodes: the GPU count before gpu_loss
NODE_FAULT_ANNOTATION = "sandbox.ecp.ai/node-fault"  # nodes: "down" -> kwok stage sets NotReady
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"

# scenario -> (what it changes, the alert that should fire)
SCENARIOS: dict[str, tuple[str, str]] = {
    "cpu_spike": ("the service's containers use 96% of their CPU limit (cAdvisor's counter)",
                  "a custom alert on cpu_usage, e.g. `cpu_usage > 80`"),
    "pod_crash": ("the service's pods stop being Ready (kwok sets CrashLoopBackOff); with no Ready "
                  "pod every request is answered 503",
                  "ServiceDown (critical) after 2m, and ErrorBudgetBurn (page, critical); in the "
                  "sandbox (timeCompression 10) within about 30s"),
    "node_down": ("the node running most of the tenant's pods reports NotReady and its pods "
                  "stop being Ready; the node controller taints it and evicts them after 30s, "
                  "and the scheduler places the replacements on other nodes (Pending if nothing "
                  "fits)",
                  "ErrorBudgetBurn while capacity is short; ServiceDown if a service had all its "
                  "pods there"),
    "gpu_loss": ("a node with the tenant's GPU pods reports 0 allocatable nvidia.com/gpu and those "
                 "pods crash (as CUDA errors would make them)",
                 "ServiceDown for a GPU service with no Ready pod left; gpu_usage drops"),
    "latency": ("the service answers 5x slower (p95 at 3.6x the SLA's response time)",
                "LatencyAboveSLA (warning) after 5m"),
    "error_burst": ("30% of the service's requests are answered 500",
                    "ErrorBudgetBurn (page, critical)"),
}


@dataclass(frozen=True)
class Fault:
    id: str
    tenant: str
    scenario: str
    service: str | None = None      # None: every service of the tenant
    node: str | None = None         # node_down, gpu_loss: the node chosen when it was injected
    until: float | None = None      # epoch seconds; None: until cleared

    def active(self, now: float | None = None) -> bool:
        return self.until is None or (now or time.time()) < self.until

    def covers(self, tenant: str, service: str) -> bool:
        return self.tenant == tenant and self.service in (None, service)


def new_fault(tenant: str, scenario: str, service: str | None, node: str | None,
              seconds: float | None) -> Fault:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}")
    return Fault(uuid.uuid4().hex[:8], tenant, scenario, service, node,
                 time.time() + seconds if seconds else None)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock = path.with_name(path.name + ".lock")
    with open(lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def load(path: Path) -> list[Fault]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [Fault(**f) for f in raw.get("faults", [])]


def _save(path: Path, faults: list[Fault]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"faults": [asdict(f) for f in faults]}, indent=2) + "\n")
    tmp.replace(path)


def add(path: Path, fault: Fault) -> None:
    with _locked(path):
        _save(path, [*load(path), fault])


def clear(path: Path, tenant: str | None = None, scenario: str | None = None) -> list[Fault]:
    """Remove the faults that match (all when nothing is given); returns those removed."""
    with _locked(path):
        faults = load(path)
        gone = [f for f in faults if (tenant in (None, f.tenant))
                and (scenario in (None, f.scenario))]
        _save(path, [f for f in faults if f not in gone])
    return gone


def expire(path: Path) -> list[Fault]:
    """Drop the faults whose --for has run out; returns the ones still active."""
    with _locked(path):
        faults = load(path)
        live = [f for f in faults if f.active()]
        if len(live) != len(faults):
            _save(path, live)
    return live
