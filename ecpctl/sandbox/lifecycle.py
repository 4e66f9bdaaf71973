"""Starting, stopping and inspecting a sandbox: `ecpctl sandbox up|down|status|env` and
`python -m tests.testenv` call these. They return data and report progress through a callback;
the CLI prints.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ecpctl.kernel import EcpctlError
from ecpctl.sandbox import binaries, build
from ecpctl.sandbox.layout import Layout

UP_TIMEOUT = 240.0
DOWN_TIMEOUT = 90.0


class SandboxError(EcpctlError):
    """A sandbox could not be started, found or stopped."""


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_supervisor(pid: int) -> bool:
    try:
        return b"ecpctl.sandbox.serve" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def running(layout: Layout) -> dict[str, Any] | None:
    """The record of the sandbox running in this directory, or None."""
    rec = layout.read_record()
    if rec and _is_supervisor(int(rec.get("supervisor_pid", -1))):
        return rec
    return None


@dataclass(frozen=True)
class UpResult:
    record: dict[str, Any]
    already_running: bool
    seconds: float
    built: bool


def up(layout: Layout, *, nodes: int = 3, gpus_per_node: int = 2, gpu_product: str = "Tesla-T4",
       timeout: float = UP_TIMEOUT, log: Callable[[str], None] = print) -> UpResult:
    layout.root.mkdir(parents=True, exist_ok=True)
    rec = running(layout)
    if rec:
        return UpResult(rec, True, 0.0, False)
    _cleanup_stale(layout)
    res = binaries.resolve()
    built = bool(res.missing)
    if res.missing:
        try:
            res = binaries.ensure(log)
        except build.BuildError as exc:
            raise SandboxError(f"building the control plane failed: {exc}") from exc
    sources = sorted({f.source for f in res.found.values()})
    if sources == [binaries.CACHE]:
        log(f"binaries: built from Go modules, cached in {build.cache_root()}")
    else:
        log("binaries: " + ", ".join(f"{f.name} {f.version} from {f.source}"
                                      for f in res.found.values()))
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    started = time.monotonic()
    with open(layout.supervisor_log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecpctl.sandbox.serve", "--dir", str(layout.root),
             "--nodes", str(nodes), "--gpus-per-node", str(gpus_per_node),
             "--gpu-product", gpu_product],
            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    deadline = started + timeout
    while time.monotonic() < deadline:
        rec = layout.read_record()
        if rec and rec.get("ready") and rec.get("supervisor_pid") == proc.pid:
            return UpResult(rec, False, time.monotonic() - started, built)
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    tail = "\n".join(layout.supervisor_log.read_text(errors="replace").splitlines()[-30:])
    raise SandboxError(f"the sandbox did not start; last lines of {layout.supervisor_log}:\n{tail}")


def _cleanup_stale(layout: Layout) -> None:
    """A supervisor that was killed leaves its components and record behind: end them."""
    rec = layout.read_record()
    if not rec:
        return
    for pid in (rec.get("pids") or {}).values():
        if pid_alive(pid) and _started_under(pid, layout.root):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    pg_dir = rec.get("postgres_dir") or ""
    if Path(pg_dir).name.startswith("ecpctl-pg-"):
        subprocess.run(["rm", "-rf", pg_dir], check=False)
    layout.record.unlink(missing_ok=True)


def _started_under(pid: int, root: Path) -> bool:
    """Guards against PID reuse: the process' command line names this sandbox's directory, or
    one of the control-plane binaries."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    known = {str(p) for p in build.binary_paths().values()}
    return str(root) in cmdline or cmdline.split("\0")[0] in known or "ecpctl.sandbox" in cmdline


def down(layout: Layout) -> bool:
    """Stop the sandbox of this directory; False when none was running."""
    rec = layout.read_record()
    if not rec:
        return False
    pid = int(rec.get("supervisor_pid", -1))
    if pid_alive(pid) and _is_supervisor(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + DOWN_TIMEOUT
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)
    _cleanup_stale(layout)
    return True


def health(rec: dict[str, Any]) -> dict[str, str]:
    """Each component's state as its own health endpoint or process reports it."""
    out: dict[str, str] = {}
    alive = {name: pid_alive(pid) for name, pid in (rec.get("pids") or {}).items()}
    for name, ok in alive.items():
        out[name] = "running" if ok else "exited"
    checks = {"prometheus": rec.get("prometheus_url", "") + "/-/ready",
              "alertmanager": rec.get("alertmanager_url", "") + "/-/ready",
              "simulator": rec.get("simulator_url", "") + "/healthz"}
    for name, url in checks.items():
        try:
            ok = httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            ok = False
        out[name] = "ready" if ok else "not answering"
    return out
