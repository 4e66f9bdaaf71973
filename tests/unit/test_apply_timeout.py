"""`apply --timeout` bounds the whole apply: past it nothing new starts, waits and retries end,
every resource left is one `Error:` line, exit 1, the lock released and state holding exactly what
finished; the next apply finishes the rest. `--wait-timeout` is each object's readiness wait."""

from __future__ import annotations

import json
import re
import time

import pytest

from ecpctl.graph import build_graph
from ecpctl.kernel import ProviderError, ServerError
from ecpctl.kernel.retry import RetryPolicy
from ecpctl.walk import walk
from providers.kubernetes import ready
from providers.kubernetes.kinds import KindInfo

COMPLETE = re.compile(r"^(\S+): Creation complete after", re.M)
LATE = re.compile(r"^Error: (\S+): not started: the apply's --timeout of 1s passed$", re.M)


def test_an_apply_past_its_timeout_reports_each_resource_left_and_keeps_what_finished(
        ecpctl, spec_dir):
    r = ecpctl("apply", str(spec_dir), "--auto-approve", "--parallelism", "1", "--timeout", "1s",
               env={"ECPCTL_FAKE_DELAY": "0.3"})
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    done = set(COMPLETE.findall(r.output))
    left = LATE.findall(r.output)
    assert 1 <= len(done) <= 5, r.output            # 0.3 s each, one at a time, 1 s in all
    assert left and len(left) == len(set(left)) and not set(left) & done
    assert f"{len(left)} not started." in r.output and "Apply failed!" in r.output
    assert set(ecpctl("state", "list").stdout.split()) == done
    everything = done | set(left)
    status = {t["tenant_id"]: t["status"]
              for t in json.loads(ecpctl("tenants", "--json").output)["tenants"]}
    assert {status[a.split(".")[1]] for a in left} == {"failed"}   # the tenants left undone

    r = ecpctl("apply", str(spec_dir), "--auto-approve")     # the lock was released
    assert r.exit_code == 0, r.output
    assert set(COMPLETE.findall(r.output)) == set(left)
    assert set(ecpctl("state", "list").stdout.split()) == everything
    assert {t["status"] for t in json.loads(ecpctl("tenants", "--json").output)["tenants"]} \
        == {"running"}


def test_apply_json_reports_the_resources_left_as_errors(ecpctl, spec_dir):
    r = ecpctl("apply", str(spec_dir), "--auto-approve", "--json", "--parallelism", "1",
               "--timeout", "1s", env={"ECPCTL_FAKE_DELAY": "0.3"})
    assert r.exit_code == 1
    events = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    late = [e["diagnostic"]["address"] for e in events if e.get("type") == "diagnostic"
            and "--timeout of 1s passed" in e["diagnostic"].get("summary", "")]
    assert late, r.stdout[-2000:]
    summary = [e for e in events if e.get("type") == "change_summary"][-1]
    assert f"{len(late)} not started." in summary["@message"]


def test_the_walk_starts_nothing_once_its_deadline_passed():
    g = build_graph({f"n{i:02d}": [] for i in range(20)})
    starts: dict[str, float] = {}
    deadline = time.monotonic() + 0.2
    result = walk(g, lambda n: time.sleep(0.05), parallelism=1, deadline=deadline,
                  on_start=lambda n: starts.setdefault(n, time.monotonic()))
    assert result.timed_out and not result.interrupted
    assert all(t < deadline for t in starts.values())
    assert set(result.done) == set(starts) and 2 <= len(starts) <= 5
    assert result.not_started == tuple(sorted(set(g.nodes) - set(starts)))


def test_a_walk_that_finishes_in_time_did_not_time_out():
    g = build_graph({"a": [], "b": ["a"]})
    result = walk(g, lambda n: None, deadline=time.monotonic() + 30)
    assert not result.timed_out and result.not_started == ()


def test_a_retry_policy_within_a_deadline_gives_up_when_the_next_wait_passes_it():
    calls = []

    def fn():
        calls.append(1)
        raise ServerError("busy")

    policy = RetryPolicy(attempts=6, base=1.0).within(0.5)
    with pytest.raises(ServerError):
        policy.call(fn, sleep=lambda s: None)
    assert calls == [1]                         # the first backoff (0.5 s to 1 s) passes it
    assert RetryPolicy(deadline=60).within(-3).deadline == 0


class _Pending:
    """A client whose Deployment never becomes available."""

    def request(self, method, path, **kw):
        return DEPLOYMENT


DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "callbot", "namespace": "ecp-ai-acme", "generation": 1},
              "spec": {"replicas": 2},
              "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2,
                         "availableReplicas": 1}}
DEPLOY = KindInfo(api_version="apps/v1", kind="Deployment", plural="deployments", namespaced=True)


def _wait(until):
    clock = [0.0]

    def sleep(s):
        clock[0] += s

    try:
        ready.wait_ready(_Pending(), DEPLOY, DEPLOYMENT, timeout=300, until=until, sleep=sleep,
                         clock=lambda: clock[0])
    except ProviderError as exc:
        return str(exc), clock[0]
    raise AssertionError("the wait returned")


def test_a_readiness_wait_ends_at_the_apply_deadline_and_says_so():
    message, ended = _wait(until=12.0)
    assert ended == 12.0
    assert message.startswith("the apply's --timeout passed waiting for Deployment callbot: "
                              "1/2 replicas available"), message
    message, ended = _wait(until=None)
    assert ended == 300.0 and message.startswith("timed out after 300s waiting for Deployment")
