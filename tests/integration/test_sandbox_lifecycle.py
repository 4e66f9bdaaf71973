"""`ecpctl sandbox up|status|env|down` as a user runs them (real processes), with a second sandbox
beside the first: its own directory, ports and cluster, and stopping one leaves the other up."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.integration.sandbox_support import ensure_binaries

pytestmark = [pytest.mark.integration,
              pytest.mark.timeout(1800)]   # a first build of the binaries included


def ecpctl(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ECPCTL_SANDBOX_DIR"}
    out = subprocess.run([sys.executable, "-m", "ecpctl.cli.main", *args], capture_output=True,
                         text=True, timeout=timeout, env=env)
    if check and out.returncode != 0:
        raise AssertionError(f"ecpctl {' '.join(args)} exited {out.returncode}:\n{out.stdout}"
                             f"\n{out.stderr}")
    return out


def status(directory: Path) -> tuple[int, dict]:
    out = ecpctl("sandbox", "status", "--json", "--dir", str(directory), check=False)
    return out.returncode, json.loads(out.stdout)


def listening(url: str) -> bool:
    parts = urlsplit(url if "//" in url else f"tcp://{url}")
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((parts.hostname, parts.port)) == 0


def endpoints(rec: dict) -> list[str]:
    return [rec["server"], rec["prometheus_url"], rec["alertmanager_url"], rec["simulator_url"],
            rec["postgres_dsn"].split("@", 1)[1].split("/", 1)[0]]


@pytest.fixture
def dirs(tmp_path):
    ensure_binaries()
    a, b = tmp_path / "one", tmp_path / "two"
    try:
        yield a, b
    finally:
        for d in (a, b):
            ecpctl("sandbox", "down", "--dir", str(d), check=False)


def test_two_sandboxes_side_by_side(dirs):
    a, b = dirs
    code, st = status(a)
    assert code == 3 and st == {"running": False, "dir": str(a.resolve())}

    up_a = ecpctl("sandbox", "up", "--dir", str(a))
    assert "Sandbox up in" in up_a.stdout and f"source {a.resolve()}/env.sh" in up_a.stdout
    assert "binaries:" in up_a.stderr          # says where each binary came from
    up_b = ecpctl("sandbox", "up", "--dir", str(b), "--nodes", "2", "--gpus-per-node", "4",
                  "--gpu-product", "NVIDIA-A100-SXM4-40GB")
    assert "2 nodes with 4 GPUs each" in up_b.stdout

    (_, ra), (_, rb) = status(a), status(b)
    for rec, d in ((ra, a), (rb, b)):
        assert rec["running"] and rec["dir"] == str(d.resolve())
        assert set(rec["components"].values()) <= {"running", "ready"}, rec["components"]
        assert {"prometheus", "alertmanager", "simulator", "kube-apiserver"} <= set(
            rec["components"])
        assert all(listening(e) for e in endpoints(rec))
    assert not set(endpoints(ra)) & set(endpoints(rb))    # nothing shared

    # env: what to source; the cluster it points at is that sandbox's own
    def nodes(d: Path) -> list[dict]:
        script = (f'eval "$({sys.executable} -m ecpctl.cli.main sandbox env --dir {d})" && '
                  'kubectl get nodes -o json')
        out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)["items"]

    env_a = ecpctl("sandbox", "env", "--dir", str(a)).stdout
    for name in ("KUBECONFIG", "ECPCTL_POSTGRES_DSN", "ECPCTL_SANDBOX_DIR",
                 "ECPCTL_PROMETHEUS_URL", "ALERTMANAGER_URL", "PATH"):
        assert f"export {name}=" in env_a
    na, nb = nodes(a), nodes(b)
    assert len(na) == 3 and len(nb) == 2
    assert {n["status"]["allocatable"]["nvidia.com/gpu"] for n in nb} == {"4"}
    assert {n["metadata"]["labels"]["nvidia.com/gpu.product"] for n in nb} == {
        "NVIDIA-A100-SXM4-40GB"}
    assert {n["metadata"]["labels"]["nvidia.com/gpu.product"] for n in na} == {"Tesla-T4"}

    # the Project each writes points at its own servers, rules and routes in file mode
    proj = json.loads("".join(line for line in (a / "project.yaml").read_text().splitlines(True)
                              if not line.startswith("#")))
    assert proj["spec"]["providers"]["prometheus"]["url"] == ra["prometheus_url"]
    assert proj["spec"]["monitoring"]["rulesMode"] == "file"

    # a second `up` in the same directory finds the running one
    again = ecpctl("sandbox", "up", "--dir", str(a))
    assert f"already running in {a.resolve()}" in again.stdout

    # stopping one leaves the other running
    assert f"Sandbox in {a.resolve()} stopped." in ecpctl("sandbox", "down", "--dir", str(a)).stdout
    assert status(a)[0] == 3
    assert not any(listening(e) for e in endpoints(ra))
    assert not (a / "sandbox.json").exists() and not (a / "kubeconfig").exists()
    code, rb2 = status(b)
    assert code == 0 and set(rb2["components"].values()) <= {"running", "ready"}
    assert len(nodes(b)) == 2

    # commands that need a running sandbox say so in one line
    env = ecpctl("sandbox", "env", "--dir", str(a), check=False)
    assert env.returncode == 1 and env.stdout == ""
    assert env.stderr.strip().splitlines() == [
        f"Error: no sandbox is running in {a.resolve()} (start one: ecpctl sandbox up)"]
    assert "No sandbox is running" in ecpctl("sandbox", "down", "--dir", str(a)).stdout

    ecpctl("sandbox", "down", "--dir", str(b))
    assert not any(listening(e) for e in endpoints(rb))
    assert all(not Path(f"/proc/{pid}").exists() for pid in rb["pids"].values())
