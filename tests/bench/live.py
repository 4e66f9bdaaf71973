"""Live scenarios: ecpctl against the real control plane and the real Postgres from tests/testenv.

Each measured command runs as its own process (`python -m ecpctl ...`), so its CPU time and peak
memory are its own (from wait4). Requests are counted by the servers themselves:

* Kubernetes: kube-apiserver's audit log (every request: user agent, verb, resource, answer),
  filtered on the client's User-Agent, so that the controllers' own traffic is not counted;
* Postgres: `pg_stat_statements` (reset before each command; statements by their first keyword)
  and `pg_stat_database.sessions` (connections opened).

The fleet is made of light tenants (tests/bench/generate.py: two CPU services, a database, alerts
and dashboards, 28 resources each) that fit fake nodes; applies and destroys run with --no-wait so
that the figures measure ecpctl and the servers, not the fake kubelet's pace.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.bench.generate import LIGHT_PODS, generate_light, write_light_tenant

ROOT = Path(__file__).resolve().parents[2]
ECPCTL_AGENT = "OpenAPI-Generator/"      # the kubernetes client's User-Agent (ecpctl's requests)
KUBECTL_AGENT = "kubectl/"
NODE_CAPACITY = {"cpu": "512", "memory": "2Ti", "pods": "500", "ephemeral-storage": "10Ti"}
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
"""


@dataclass
class Sizes:
    """How big each live scenario is."""

    apply: int            # cold apply, the no-op plan after it, and destroy
    noop_large: int       # the bigger no-op plan, and the one-tenant change among it
    compare: int          # ecpctl vs kubectl apply --server-side (Kubernetes objects only)

    @property
    def tenants_alive(self) -> int:
        return self.apply + self.noop_large + 2 * self.compare


FULL = Sizes(apply=100, noop_large=500, compare=100)
CI = Sizes(apply=10, noop_large=100, compare=10)


@dataclass
class Measure:
    scenario: str
    tenants: int
    resources: int
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    exit_code: int
    requests: dict = field(default_factory=dict)     # system -> verb -> count
    extra: dict = field(default_factory=dict)

    def row(self) -> dict:
        d = {"scenario": self.scenario, "tenants": self.tenants, "resources": self.resources,
             "wall_s": round(self.wall_s, 2), "cpu_s": round(self.cpu_s, 2),
             "peak_rss_mib": round(self.peak_rss_mib, 1), "exit_code": self.exit_code,
             "requests": self.requests}
        d.update(self.extra)
        return d


class Env:
    """A control plane (with an audit log) and a Postgres (with pg_stat_statements), started once."""

    def __init__(self, root: Path, tenants: int, log: Callable[[str], None], *,
                 pod_ready_delay: float = 0.0):
        from tests.testenv.kube import ControlPlane
        from tests.testenv.postgres import PostgresServer

        self.root = root
        self.log = log
        audit = root / "audit"
        audit.mkdir(parents=True, exist_ok=True)
        (audit / "policy.yaml").write_text(AUDIT_POLICY)
        self.audit_log = audit / "audit.log"
        pods = tenants * LIGHT_PODS
        nodes = max(2, math.ceil(pods / (int(NODE_CAPACITY["pods"]) * 0.8)))
        services = tenants * 2
        # the testenv's /24 holds 254 Services; every light tenant has two
        cidr = "10.0.0.0/16" if services > 200 else None
        args = [f"--audit-policy-file={audit / 'policy.yaml'}", f"--audit-log-path={self.audit_log}",
                # 0 is not "no limit": the log rotated at 100 MB and a fleet's counts lost the rest
                "--audit-log-maxsize=1000000", "--audit-log-maxbackup=0"]
        if cidr:
            args.append(f"--service-cluster-ip-range={cidr}")
        self.cp = ControlPlane(nodes=nodes, node_capacity=NODE_CAPACITY, install_crds=True,
                               apiserver_args=args, pod_ready_delay=pod_ready_delay)
        self.pg = PostgresServer()
        log(f"starting a control plane ({nodes} fake nodes) and Postgres")
        self.cp.start()
        try:
            self.pg.start()
            with self.pg.connect() as conn:
                conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            self.pg.restart()
            with self.pg.connect() as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.cp.stop()
        self.pg.cleanup()

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.cp.kubeconfig),
                "ECPCTL_POSTGRES_DSN": self.pg.admin_dsn, "NO_COLOR": "1", "COLUMNS": "200",
                "PYTHONUNBUFFERED": "1"}

    # --- counting ----------------------------------------------------------------------------

    def audit_offset(self) -> int:
        try:
            return self.audit_log.stat().st_size
        except FileNotFoundError:
            return 0

    def kube_requests(self, offset: int, agent: str) -> dict[str, int]:
        """Requests from clients whose User-Agent starts with `agent`, since `offset`, by verb
        (dry-runs apart)."""
        counts: Counter[str] = Counter()
        with self.audit_log.open("rb") as fh:
            fh.seek(offset)
            for raw in fh:
                try:
                    ev = json.loads(raw)
                except ValueError:
                    continue
                if not (ev.get("userAgent") or "").startswith(agent):
                    continue
                verb = ev.get("verb", "?")
                if "dryRun=" in (ev.get("requestURI") or ""):
                    verb += " (dry-run)"
                code = (ev.get("responseStatus") or {}).get("code")
                if code == 429:
                    verb += " (429)"
                counts[verb] += 1
        return dict(sorted(counts.items()))

    def pg_reset(self) -> int:
        with self.pg.connect() as conn:
            conn.execute("SELECT pg_stat_statements_reset()")
            return self._sessions(conn)

    def pg_requests(self, sessions_before: int) -> dict[str, int]:
        # sessions flush their statistics when they end: the measured process has exited
        time.sleep(0.6)
        with self.pg.connect() as conn:
            rows = conn.execute(
                "SELECT query, calls FROM pg_stat_statements "
                "WHERE query NOT ILIKE '%pg_stat_statements%' "
                "AND query NOT ILIKE '%pg_stat_database%'").fetchall()
            sessions = self._sessions(conn) - sessions_before - 1     # less this one
        counts: Counter[str] = Counter()
        for query, calls in rows:
            words = query.strip().split(None, 1)
            counts[words[0].upper() if words else "?"] += calls
        out = dict(sorted(counts.items()))
        out["connections"] = max(0, sessions)
        return out

    @staticmethod
    def _sessions(conn) -> int:
        return int(conn.execute("SELECT coalesce(sum(sessions), 0) FROM pg_stat_database")
                   .fetchone()[0])


def run_measured(cmd: Sequence[str], env: dict, out: Path, profile: Path | None = None
                 ) -> tuple[int, float, float, float]:
    """(exit code, wall s, CPU s, peak RSS MiB) of one process, its output to `out`."""
    argv = list(cmd)
    if profile is not None and shutil.which("py-spy"):
        argv = ["py-spy", "record", "--gil", "--threads", "--format", "raw", "--rate", "100", "-o",
                str(profile), "--", *argv]
    with out.open("wb") as fh, out.with_suffix(".err").open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=fh, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return proc.returncode, wall, cpu, usage.ru_maxrss / 1024


class Fleet:
    """A spec dir of light tenants and its own SQLite state."""

    def __init__(self, env: Env, name: str, prefix: str, n: int, *, database: bool = True):
        self.env = env
        self.name = name
        self.dir = env.root / name
        self.spec = self.dir / "spec"
        self.data = self.dir / ".ecpctl"
        self.tenants = generate_light(n, self.spec, prefix=prefix, database=database)
        self.database = database

    @property
    def resources(self) -> int:
        return len(self.tenants) * (28 if self.database else 17)

    def ecpctl(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "ecpctl", "--data-dir", str(self.data), *args]

    def measure(self, scenario: str, args: Sequence[str], *, count_pg: bool = True,
                profile_dir: Path | None = None, agent: str = ECPCTL_AGENT,
                cmd: Sequence[str] | None = None, resources: int | None = None) -> Measure:
        env = self.env
        slug = scenario.replace(" ", "-").replace("/", "-")
        out = self.dir / f"{slug}.out"
        offset = env.audit_offset()
        sessions = env.pg_reset() if count_pg else 0
        profile = profile_dir / f"{slug}-{len(self.tenants)}.txt" if profile_dir else None
        code, wall, cpu, rss = run_measured(cmd or self.ecpctl(*args), env.env(), out, profile)
        requests = {"kubernetes": env.kube_requests(offset, agent)}
        if count_pg:
            requests["postgres"] = env.pg_requests(sessions)
        m = Measure(scenario, len(self.tenants), resources if resources is not None else self.resources,
                    wall, cpu, rss, code, requests)
        m.extra["output"] = str(out)
        if code not in (0, 2):
            tail = (out.read_text(errors="replace")[-2000:] + "\n"
                    + out.with_suffix(".err").read_text(errors="replace")[-2000:])
            raise RuntimeError(f"{scenario}: exit {code}:\n{tail}")
        return m

    def apply(self, scenario: str, **kw) -> Measure:
        m = self.measure(scenario, ["apply", str(self.spec), "--auto-approve", "--no-wait"], **kw)
        text = Path(m.extra["output"]).read_text(errors="replace")
        if "Apply complete!" not in text:
            raise RuntimeError(f"{scenario}: {text[-3000:]}")
        m.extra["objects_per_s"] = round(m.resources / m.wall_s, 1)
        return m

    def plan(self, scenario: str, *extra: str, **kw) -> Measure:
        m = self.measure(scenario, ["plan", str(self.spec), "--json", *extra], **kw)
        text = Path(m.extra["output"]).read_text()
        # under --profile, py-spy's own lines surround the JSON document
        doc, _ = json.JSONDecoder().raw_decode(text, text.index("{"))
        m.extra["plan_requests"] = doc.get("requests", {})
        m.extra["changes"] = sum(1 for c in doc["resource_changes"] if c["actions"] != ["no-op"])
        m.resources = len(doc["resource_changes"])
        return m


def run_live(sizes: Sizes, root: Path, log: Callable[[str], None],
             profile_dir: Path | None = None) -> list[dict]:
    rows: list[dict] = []

    def keep(m: Measure) -> None:
        rows.append(m.row())
        log(f"  {m.scenario} ({m.tenants} tenants): {m.wall_s:.1f} s wall, {m.cpu_s:.1f} s CPU")

    env = Env(root, sizes.tenants_alive, log)
    try:
        # cold apply, a no-op plan of it (N tenants)
        a = Fleet(env, "apply", "a", sizes.apply)
        log(f"cold apply of {sizes.apply} tenants")
        keep(a.apply("cold apply", profile_dir=profile_dir))
        keep(a.plan("no-op plan", profile_dir=profile_dir))

        # the same Kubernetes objects: ecpctl, then kubectl apply --server-side, fresh namespaces
        log(f"ecpctl and kubectl apply --server-side of {sizes.compare} tenants' Kubernetes objects")
        k = Fleet(env, "compare-ecpctl", "k", sizes.compare, database=False)
        mk = k.apply("cold apply, kubernetes only", count_pg=False)
        c = Fleet(env, "compare-kubectl", "c", sizes.compare, database=False)
        rendered = c.dir / "rendered"
        subprocess.run(c.ecpctl("render", str(c.spec), "-o", str(rendered)), cwd=ROOT,
                       env=env.env(), check=True, capture_output=True)
        kubectl = [str(env.cp.binaries["kubectl"]), "--kubeconfig", str(env.cp.kubeconfig),
                   "apply", "--server-side", "--field-manager=kubectl-bench", "-f", str(rendered), "-R"]
        mc = c.measure("kubectl apply --server-side", [], count_pg=False, agent=KUBECTL_AGENT,
                       cmd=kubectl)
        mc.extra["objects_per_s"] = round(mc.resources / mc.wall_s, 1)
        ratio = round(mk.wall_s / mc.wall_s, 2)
        cpu_ratio = round(mk.cpu_s / mc.cpu_s, 2) if mc.cpu_s else None
        for m in (mk, mc):
            m.extra["ecpctl_over_kubectl_wall"] = ratio
            m.extra["ecpctl_over_kubectl_cpu"] = cpu_ratio
        keep(mk)
        keep(mc)

        # the bigger fleet: applied (measured too), then a no-op plan and one tenant changed
        b = Fleet(env, "large", "b", sizes.noop_large)
        log(f"cold apply of {sizes.noop_large} tenants")
        keep(b.apply("cold apply", profile_dir=profile_dir))
        keep(b.plan("no-op plan", profile_dir=profile_dir))
        changed = b.tenants[len(b.tenants) // 2]
        write_light_tenant(b.spec, changed, chatbot=150)
        keep(b.plan("one tenant changed", profile_dir=profile_dir))
        # --target: reads scoped to the tenant (label selectors, its database alone)
        keep(b.plan("plan --target 1 tenant", "--target", changed, profile_dir=profile_dir))

        # destroy of the first fleet
        log(f"destroy of {sizes.apply} tenants")
        d = a.measure("destroy", ["destroy", str(a.spec), "--auto-approve", "--no-wait"],
                      profile_dir=profile_dir)
        text = Path(d.extra["output"]).read_text(errors="replace")
        if "Destroy complete!" not in text:
            raise RuntimeError(f"destroy: {text[-3000:]}")
        d.extra["objects_per_s"] = round(d.resources / d.wall_s, 1)
        keep(d)
    finally:
        env.close()
    return rows
