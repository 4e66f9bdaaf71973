"""Throttling: the API server restarted with tiny in-flight limits (and priority-and-fairness off,
so that its max-in-flight filter answers 429 with Retry-After at once) while a multi-tenant plan
and apply run against it. Every 429 is sent again after its Retry-After plus jitter, a bounded
number of times; plan and apply complete, and the next plan says "No changes.". The bounds
themselves are checked offline below: no path retries forever."""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from ecpctl.kernel import ProviderError, Throttled
from ecpctl.kernel.retry import ATTEMPTS, RETRY_AFTER_CAP, backoff, with_retries
from tests.integration.faults_support import (  # noqa: F401
    audit_args,
    audit_events,
    fault_control_plane,
    fleet_factory,
    operator_kubeconfig,
)
from tests.testenv.kube import ControlPlane

# the offline retry tests below live here with the throttling test they explain; tests/ci_rules.py
# requires the marker on every test under tests/integration
pytestmark = pytest.mark.integration

THROTTLED = ["--enable-priority-and-fairness=false", "--max-requests-inflight=1",
             "--max-mutating-requests-inflight=1"]
# (system:masters is exempt from these limits: ecpctl and the neighbours use an operator account)
OPERATOR_USER = "system:serviceaccount:default:operator"
ECPCTL_AGENT = "OpenAPI-Generator/"        # the kubernetes client's User-Agent, which ecpctl sends


@pytest.fixture
def throttled_cp(tmp_path) -> Iterator[ControlPlane]:
    # started with normal limits (nodes and CRDs go in quickly), then restarted with tiny ones
    with fault_control_plane(nodes=1) as plane:
        plane.restart_apiserver([*THROTTLED, *audit_args(tmp_path / "audit")])
        yield plane


class Neighbours:
    """Other clients of the same API server keeping its one read seat and one write seat busy:
    threads that LIST and server-side apply in a loop, as a busy cluster's controllers would."""

    def __init__(self, cp: ControlPlane, token: str, readers: int = 3, writers: int = 2):
        self.cp = cp
        self.token = token
        self.stop = threading.Event()
        self.answers: dict[int, int] = {}
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._read, daemon=True) for _ in range(readers)]
        self.threads += [threading.Thread(target=self._write, args=(i,), daemon=True)
                         for i in range(writers)]

    def _send(self, path: str, *, body: bytes | None = None) -> None:
        req = urllib.request.Request(self.cp.server + path, data=body,
                                     method="PATCH" if body is not None else "GET")
        req.add_header("Authorization", f"Bearer {self.token}")
        if body is not None:
            req.add_header("Content-Type", "application/apply-patch+yaml")
        ctx = ssl.create_default_context(cafile=str(self.cp.certs.ca_crt))
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
                resp.read()
                code = resp.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        except OSError:
            code = 0
        with self._lock:
            self.answers[code] = self.answers.get(code, 0) + 1

    def _read(self) -> None:
        while not self.stop.is_set():
            self._send("/api/v1/configmaps?limit=500")

    def _write(self, i: int) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            cm = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": f"neighbour-{i}", "namespace": "default"},
                  "data": {"n": str(n)}}
            self._send(f"/api/v1/namespaces/default/configmaps/neighbour-{i}"
                       "?fieldManager=neighbour&force=true", body=json.dumps(cm).encode())

    def __enter__(self) -> Neighbours:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


@pytest.mark.integration
@pytest.mark.kube
@pytest.mark.postgres
def test_throttled_api_server_plan_and_apply_complete(throttled_cp, postgres_server, fleet_factory,
                                                      tmp_path):
    # as an operator's cluster-admin account: system:masters would bypass the in-flight limits
    kubeconfig, token = operator_kubeconfig(throttled_cp, tmp_path / "operator.kubeconfig")
    fleet = fleet_factory(throttled_cp, postgres_server.admin_dsn, ["thr-a", "thr-b", "thr-c"],
                          kubeconfig=kubeconfig)
    everything = fleet.all_addresses()

    audit = tmp_path / "audit"
    with Neighbours(throttled_cp, token) as neighbours:
        # parallel LISTs of the plan and parallel server-side applies, against one seat each
        r = fleet.ok("apply", str(fleet.spec), "--auto-approve", "--parallelism", "8", "--no-wait")
        assert "Apply complete!" in r.output
        assert fleet.state() == everything
        doc = json.loads(fleet.ok("plan", str(fleet.spec), "--json", "--parallelism", "8").stdout)
    assert all(c["actions"] == ["no-op"] for c in doc["resource_changes"])
    assert neighbours.answers.get(429), neighbours.answers       # the server was shedding load
    # ecpctl's own requests were answered 429 (the API server's audit log says so) ...
    mine = audit_events(audit, username=OPERATOR_USER, user_agent_prefix=ECPCTL_AGENT)
    rejected = [ev for ev in mine if (ev.get("responseStatus") or {}).get("code") == 429]
    assert rejected, f"none of ecpctl's {len(mine)} requests was answered 429"
    # ... and each was sent again until it got through: every object ecpctl applied is there
    applied = {(ev["objectRef"].get("namespace"), ev["objectRef"]["resource"],
                ev["objectRef"].get("name")) for ev in mine
               if ev.get("verb") == "patch" and (ev.get("responseStatus") or {}).get("code") in (200, 201)}
    for ev in rejected:
        if ev.get("verb") == "patch" and "dryRun" not in ev.get("requestURI", ""):
            ref = ev["objectRef"]
            assert (ref.get("namespace"), ref["resource"], ref.get("name")) in applied, ev
    # bounded: no resource needed more retries of the applier than its attempts allow
    per_address: dict[str, int] = {}
    for m in re.finditer(r"^(\S+): retrying in", r.output, re.M):
        per_address[m.group(1)] = per_address.get(m.group(1), 0) + 1
    assert all(n < ATTEMPTS for n in per_address.values()), per_address


# --- the bounds, offline ---------------------------------------------------------------------------

def test_backoff_honours_retry_after_with_jitter_above_it():
    lows = [backoff(a, 1.0, rand=lambda lo, hi: lo) for a in range(1, 8)]
    highs = [backoff(a, 1.0, rand=lambda lo, hi: hi) for a in range(1, 8)]
    assert lows == [1.25, 1.5, 2.0, 3.0, 5.0, 5.0, 5.0]  # never earlier than Retry-After
    assert highs[0] == 1.5 and highs[-1] == 1.0 + 8.0    # jitter window grows, capped at 8 s
    assert backoff(1, 3600.0, rand=lambda lo, hi: lo) == RETRY_AFTER_CAP + 0.25   # header capped


def test_the_retry_window_is_never_close_to_zero():
    # however the jitter falls, the waits between ATTEMPTS attempts span at least 7.75 s: enough
    # for a server restarting in a few seconds (test_faults_postgres), bounded at 15.5 s
    shortest = sum(backoff(a, rand=lambda lo, hi: lo) for a in range(1, ATTEMPTS))
    longest = sum(backoff(a, rand=lambda lo, hi: hi) for a in range(1, ATTEMPTS))
    assert (shortest, longest) == (7.75, 15.5)


def test_with_retries_is_bounded_in_attempts_and_time():
    calls, slept = [], []

    def always_throttled():
        calls.append(1)
        raise Throttled("429", retry_after=1.0)

    with pytest.raises(ProviderError):
        with_retries(always_throttled, sleep=slept.append)
    assert len(calls) == ATTEMPTS and len(slept) == ATTEMPTS - 1
    assert all(s >= 1.0 for s in slept)

    calls.clear()
    t0 = time.monotonic()
    with pytest.raises(ProviderError):
        with_retries(always_throttled, attempts=1000, deadline=0.05, sleep=lambda s: None)
    assert len(calls) == 1 and time.monotonic() - t0 < 5   # the deadline stops it before a sleep


def test_permanent_errors_are_not_retried():
    calls = []

    def refused():
        calls.append(1)
        raise ProviderError("403 forbidden")

    with pytest.raises(ProviderError):
        with_retries(refused, sleep=lambda s: None)
    assert len(calls) == 1


def test_the_kubernetes_client_gives_up_on_429_after_its_bound():
    from providers.kubernetes.client import THROTTLE_ATTEMPTS, KubeClient, KubeError

    client = KubeClient.__new__(KubeClient)
    import threading
    from collections import Counter
    client._lock, client._counts = threading.Lock(), Counter()
    sends, slept = [], []

    def send(*a, **kw):
        sends.append(1)
        raise KubeError(429, "TooManyRequests", "slow down", retry_after=1.0)

    client._send = send
    with pytest.raises(KubeError):
        client.request("GET", "/api", verb="discovery", sleep=slept.append)
    assert len(sends) == THROTTLE_ATTEMPTS and client.counts()["throttled"] == THROTTLE_ATTEMPTS
    assert all(s >= 1.0 for s in slept)
