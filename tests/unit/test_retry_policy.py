"""The one retry policy: what it retries, how long it waits, where it stops; and that each retry loop
of the project goes through it."""

from __future__ import annotations

import pytest

from ecpctl.kernel import Forbidden, ProviderError, ServerError, Throttled, Unreachable
from ecpctl.kernel.retry import DEFAULT, THROTTLE, RetryPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def failing(errors):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "ok"
    return fn, calls


def test_retryable_errors_are_retried_until_success():
    clock = Clock()
    fn, calls = failing([Unreachable("down"), ServerError("503")])
    assert DEFAULT.call(fn, sleep=clock.sleep, clock=lambda: clock.now) == "ok"
    assert len(calls) == 3 and len(clock.slept) == 2


def test_permanent_errors_and_other_exceptions_are_raised_at_once():
    for err in (Forbidden("no"), ProviderError("plain"), KeyError("bug")):
        fn, calls = failing([err])
        with pytest.raises(type(err)):
            DEFAULT.call(fn, sleep=lambda s: None)
        assert len(calls) == 1


def test_attempts_bound_and_waits_span_the_documented_window():
    clock = Clock()
    fn, calls = failing([ServerError("x")] * 10)
    with pytest.raises(ServerError):
        DEFAULT.call(fn, sleep=clock.sleep, clock=lambda: clock.now)
    assert len(calls) == DEFAULT.attempts == 6
    assert 7.75 <= sum(clock.slept) <= 15.5


def test_retry_after_is_honoured_and_capped():
    clock = Clock()
    fn, _ = failing([Throttled("429", retry_after=3.0), Throttled("429", retry_after=3600.0)])
    DEFAULT.call(fn, sleep=clock.sleep, clock=lambda: clock.now)
    assert 3.0 + 0.25 <= clock.slept[0] <= 3.0 + 0.5
    assert clock.slept[1] <= DEFAULT.retry_after_cap + 1.0


def test_the_deadline_stops_a_wait_that_would_end_past_it():
    clock = Clock()
    fn, calls = failing([Throttled("429", retry_after=10.0)] * 10)
    with pytest.raises(Throttled):
        RetryPolicy(attempts=100, deadline=25.0).call(fn, sleep=clock.sleep, clock=lambda: clock.now)
    assert clock.now <= 25.0 and len(calls) == len(clock.slept) + 1


def test_a_policy_retries_what_its_predicate_accepts():
    fn, calls = failing([ValueError("429"), ValueError("429")])
    assert RetryPolicy(base=0.0).call(fn, retry_if=lambda e: isinstance(e, ValueError),
                                      sleep=lambda s: None) == "ok"
    assert len(calls) == 3


def test_on_retry_hears_each_retry_and_single_attempt_policies_do_not_retry():
    heard = []
    fn, _ = failing([ServerError("a")])
    DEFAULT.call(fn, on_retry=lambda e, d: heard.append((e.reason, d > 0)), sleep=lambda s: None)
    assert heard == [("a", True)]
    fn, calls = failing([ServerError("a")])
    with pytest.raises(ServerError):
        DEFAULT.with_attempts(1).call(fn, sleep=lambda s: None)
    assert len(calls) == 1


def test_kubernetes_discovery_is_read_again_under_the_policy(monkeypatch):
    from providers.kubernetes import provider as kp
    from providers.kubernetes.client import KubeError

    monkeypatch.setattr("time.sleep", lambda s: None)
    answers = [KubeError(503, "ServiceUnavailable", "x"), KubeError(429, "TooManyRequests", "y"), None]

    class Discovery:
        def load(self):
            a = answers.pop(0)
            if a is not None:
                raise a

    kp._load_discovery(Discovery())
    assert answers == []
    # an unreachable server is not waited for: the message saying where it was looked is better
    answers[:] = [KubeError(0, "ConnectionFailed", "connection refused"), None]
    with pytest.raises(KubeError):
        kp._load_discovery(Discovery())


def test_the_throttle_policy_resends_more_often_within_a_shorter_deadline():
    assert THROTTLE.attempts > DEFAULT.attempts and THROTTLE.deadline < DEFAULT.deadline
