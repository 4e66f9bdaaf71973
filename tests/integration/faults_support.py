"""Helpers of the fault tests (tests/integration/test_faults_*.py): light multi-tenant fleets on the
real control plane and Postgres, `ecpctl` run in-process (fast) or as a process that can be killed,
and readers of its progress lines and state."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.bench.generate import write_light_project, write_light_tenant
from tests.testenv.kube import ControlPlane

ROOT = Path(__file__).resolve().parents[2]

# Room for every fault test's tenants: each light tenant runs 2 pods (200m CPU, 512Mi each).
NODE_CAPACITY = {"cpu": "64", "memory": "256Gi", "pods": "250", "ephemeral-storage": "1Ti"}

COMPLETE = re.compile(r"^(\S+): (?:Creation|Modifications|Replacement|Destruction) complete after")
STARTED = re.compile(r"^(\S+): (?:Creating|Modifying|Replacing|Destroying)\.\.\.$")
ERROR = re.compile(r"^Error: (tenant\.\S+): (.+)$")
SKIPPED = re.compile(r"^Skipped (\S+): depends on failed (\S+)$")
RETRYING = re.compile(r"^(\S+): retrying in [0-9.]+s: (.+)$")
KUBE_COMPLETE = re.compile(r"^\S+\.kubernetes\.\S+: Creation complete after")


def fault_control_plane(**kw):
    """A private control plane (a context manager) with the prometheus-operator CRDs that the
    tenants' monitoring needs, and room for every fault test's tenants."""
    from tests.testenv.pytest_kube import private_control_plane
    kw.setdefault("nodes", 2)
    kw.setdefault("node_capacity", NODE_CAPACITY)
    return private_control_plane(install_crds=True, **kw)


@pytest.fixture(name="cp")
def one_node_cp() -> Iterator[ControlPlane]:
    """`cp`: a one-node control plane of the test's own, for tests that stop its API server."""
    with fault_control_plane(nodes=1) as plane:
        yield plane


class Fleet:
    """A spec dir of light tenants (tests/bench/generate.py) and a private SQLite state."""

    def __init__(self, root: Path, cp: ControlPlane, dsn: str, tenants: Sequence[str],
                 kubeconfig: Path | None = None, state_url: str | None = None):
        self.root = root
        self.state_url = state_url
        self.key: str | None = None          # ECPCTL_STATE_KEY of every command, when set
        self.cp = cp
        self.dsn = dsn
        self.kubeconfig = kubeconfig or cp.kubeconfig
        self.spec = write_light_project(root / "spec")
        self.data_dir = root / ".ecpctl"
        self.tenants = list(tenants)
        for t in self.tenants:
            write_light_tenant(self.spec, t)

    def env(self) -> dict[str, str]:
        env = {"KUBECONFIG": str(self.kubeconfig), "ECPCTL_POSTGRES_DSN": self.dsn,
               "NO_COLOR": "1", "COLUMNS": "250"}
        if self.state_url:
            env["ECPCTL_STATE_URL"] = self.state_url
        if self.key:
            env["ECPCTL_STATE_KEY"] = self.key
        return env

    # --- in-process ---------------------------------------------------------------------------

    def __call__(self, *args: str) -> Result:
        from ecpctl.cli.main import cli
        env = {"ECPCTL_PROVIDER_OVERRIDES": None, "ECPCTL_STATE_URL": None,
               "ECPCTL_WORKSPACE": None, "ECPCTL_STATE_KEY": None, **self.env()}
        return CliRunner().invoke(cli, ["--data-dir", str(self.data_dir), *args], env=env,
                                  catch_exceptions=False)

    def ok(self, *args: str) -> Result:
        r = self(*args)
        assert r.exit_code == 0, f"ecpctl {' '.join(args)} exited {r.exit_code}:\n{r.output[-4000:]}"
        return r

    def plan_doc(self) -> dict:
        return json.loads(self.ok("plan", str(self.spec), "--json").stdout)

    def pending(self) -> set[str]:
        """Addresses the next plan would act on."""
        return {c["address"] for c in self.plan_doc()["resource_changes"]
                if c["actions"] != ["no-op"]}

    def all_addresses(self) -> set[str]:
        doc = json.loads(self.ok("plan", str(self.spec), "--json", "--no-refresh").stdout)
        return {c["address"] for c in doc["resource_changes"]}

    def state(self) -> set[str]:
        r = self.ok("state", "list", "--json")
        return {x["address"] for x in json.loads(r.stdout)["resources"]}

    def state_attributes(self) -> dict[str, dict]:
        """address -> recorded attributes, from `state pull` (for counting what a kill left
        unrecorded; never used to judge recovery)."""
        doc = json.loads(self.ok("state", "pull").stdout)
        return {r["address"]: r["attributes"] for r in doc["resources"]}

    def graph_edges(self) -> list[tuple[str, str]]:
        dot = self.ok("graph", str(self.spec)).stdout
        return re.findall(r'"([^"]+)"\s*->\s*"([^"]+)"', dot)

    # --- as a process -------------------------------------------------------------------------

    def spawn(self, *args: str, env: dict | None = None) -> Proc:
        popen = subprocess.Popen(
            [sys.executable, "-m", "ecpctl", "--data-dir", str(self.data_dir), *args],
            cwd=ROOT, env={**os.environ, **self.env(), "PYTHONUNBUFFERED": "1", **(env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        return Proc(popen)

    def cleanup(self) -> None:
        if self.cp.apiserver_running():
            for t in self.tenants:
                self.cp.kubectl("delete", "namespace", f"ecp-ai-{t}", "--wait=false",
                                "--ignore-not-found", check=False)


class Proc:
    """A running `ecpctl` whose output is read line by line (and kept)."""

    def __init__(self, popen: subprocess.Popen):
        self.popen = popen
        self.lines: list[str] = []

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _readline(self, deadline: float) -> str | None:
        """One line, or None at end of output; AssertionError past the deadline."""
        fd = self.popen.stdout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out; output so far:\n" + "".join(self.lines)[-4000:])
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if ready:
                line = fd.readline()
                if not line:
                    return None
                self.lines.append(line)
                return line

    def wait_for(self, pattern: re.Pattern, n: int = 1, timeout: float = 120) -> None:
        """Read until `n` lines (in all) match `pattern`."""
        deadline = time.monotonic() + timeout
        seen = sum(1 for s in self.lines if pattern.search(s))
        while seen < n:         # counted as lines come: a recount per line fell behind the apply
            line = self._readline(deadline)
            if line is None:
                raise AssertionError(f"ecpctl exited before {n} lines matched {pattern.pattern!r}:\n"
                                     + "".join(self.lines)[-4000:])
            seen += bool(pattern.search(line))

    def run_for(self, seconds: float) -> bool:
        """Read output for `seconds`; False when the process ended before."""
        deadline = time.monotonic() + seconds
        fd = self.popen.stdout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            ready, _, _ = select.select([fd], [], [], min(left, 0.2))
            if ready:
                line = fd.readline()
                if not line:
                    self.popen.wait(timeout=10)
                    return False
                self.lines.append(line)

    def finish(self, timeout: float = 300) -> int:
        deadline = time.monotonic() + timeout
        while self._readline(deadline) is not None:
            pass
        return self.popen.wait(timeout=max(1.0, deadline - time.monotonic()))

    def kill(self) -> None:
        import signal
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=10)
        self.popen.stdout.close()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def matching(self, pattern: re.Pattern) -> list[re.Match]:
        return [m for m in (pattern.search(s.rstrip("\n")) for s in self.lines) if m]


def force_unlock_dead_holder(fleet: Fleet, pid: int) -> None:
    """An apply after a SIGKILL finds the dead holder's lock, names it, and force-unlock clears it."""
    r = fleet("apply", str(fleet.spec), "--auto-approve")
    assert r.exit_code == 1, r.output
    assert "appears dead" in r.output and f"(pid {pid})" in r.output, r.output
    lock_id = re.search(r"force-unlock (\S+)`", r.output).group(1)
    fleet.ok("force-unlock", lock_id, "--yes")


@pytest.fixture
def fleet_factory(tmp_path: Path) -> Iterator:
    made: list[Fleet] = []

    def make(cp: ControlPlane, dsn: str, tenants: Sequence[str], name: str = "fleet",
             kubeconfig: Path | None = None, state_url: str | None = None) -> Fleet:
        f = Fleet(tmp_path / name, cp, dsn, tenants, kubeconfig, state_url)
        made.append(f)
        return f

    try:
        yield make
    finally:
        for f in made:
            f.cleanup()


def apply_after_kill(fleet: Fleet, pid: int | None, *args: str) -> Result:
    """The next command after a kill, run the way a user does: when it stops at the lock the killed
    `ecpctl` left, it names the dead holder; `force-unlock` clears it and the command runs again."""
    r = fleet(*args)
    if r.exit_code == 1 and "appears dead" in r.output:
        if pid is not None:
            assert f"(pid {pid})" in r.output, r.output
        lock_id = re.search(r"force-unlock (\S+)`", r.output).group(1)
        fleet.ok("force-unlock", lock_id, "--yes")
        r = fleet(*args)
    assert r.exit_code == 0, f"ecpctl {' '.join(args)} exited {r.exit_code}:\n{r.output[-4000:]}"
    left = held_lock(fleet)
    if left is not None and "No changes." in r.output:
        # A command with nothing to do takes no lock, so it never met the dead holder's: the lock
        # would stop the next command that has work. Clear it now, as that user would.
        assert pid is None or left[1] == pid, (left, pid)
        fleet.ok("force-unlock", left[0], "--yes")
    return r


def held_lock(fleet: Fleet) -> tuple[str, int] | None:
    """(lock id, pid) of the workspace lock, read from the state database itself."""
    query = "SELECT id, pid FROM locks WHERE workspace = 'default'"
    if fleet.state_url:
        import psycopg
        with psycopg.connect(fleet.state_url, connect_timeout=10) as conn:
            row = conn.execute(query).fetchone()
    else:
        import sqlite3
        path = fleet.data_dir / "state.db"
        if not path.exists():
            return None
        conn = sqlite3.connect(path, timeout=30)
        try:
            row = conn.execute(query).fetchone()
        except sqlite3.OperationalError:       # no locks table yet: nothing was ever locked
            row = None
        finally:
            conn.close()
    return (str(row[0]), int(row[1])) if row else None


def sigkill_postgres(server) -> None:
    """SIGKILL to the whole server (postmaster and every backend at once): a crash, not a shutdown;
    the next start runs crash recovery from the WAL."""
    import signal
    proc = server._proc
    assert proc is not None and proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    server._proc = None


def operator_kubeconfig(cp: ControlPlane, path: Path, name: str = "operator") -> tuple[Path, str]:
    """A kubeconfig for a cluster-admin ServiceAccount's token: a user like a real operator's, not
    in system:masters, whose requests the API server's in-flight limits apply to (system:masters
    bypasses them). Returns (path, token)."""
    import base64
    cp.kubectl("create", "serviceaccount", name, "-n", "default")
    cp.kubectl("create", "clusterrolebinding", f"{name}-admin", "--clusterrole=cluster-admin",
               f"--serviceaccount=default:{name}")
    token = cp.kubectl("create", "token", name, "-n", "default", "--duration=2h").stdout.strip()
    assert cp.certs is not None
    ca = base64.b64encode(cp.certs.ca_crt.read_bytes()).decode()
    config = {"apiVersion": "v1", "kind": "Config", "current-context": name,
              "clusters": [{"name": "testenv", "cluster": {"server": cp.server,
                                                           "certificate-authority-data": ca}}],
              "users": [{"name": name, "user": {"token": token}}],
              "contexts": [{"name": name, "context": {"cluster": "testenv", "user": name}}]}
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)
    return path, token


AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
"""


def audit_args(directory: Path) -> list[str]:
    """kube-apiserver flags that log every request (who, what, answer) as JSON lines."""
    directory.mkdir(parents=True, exist_ok=True)
    policy = directory / "audit-policy.yaml"
    policy.write_text(AUDIT_POLICY)
    return [f"--audit-policy-file={policy}", f"--audit-log-path={directory / 'audit.log'}",
            "--audit-log-maxsize=0", "--audit-log-maxbackup=0"]


def audit_events(directory: Path, *, username: str | None = None,
                 user_agent_prefix: str | None = None) -> list[dict]:
    out = []
    try:
        lines = (directory / "audit.log").read_text().splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:
            continue            # the line being written
        if username is not None and (ev.get("user") or {}).get("username") != username:
            continue
        if user_agent_prefix is not None and not (ev.get("userAgent") or "").startswith(user_agent_prefix):
            continue
        out.append(ev)
    return out
