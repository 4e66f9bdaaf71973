"""The one retry policy: exponential backoff with equal jitter, honouring Retry-After, always
bounded in attempts and total time. Every retry loop of the project goes through a `RetryPolicy`:
the engine's per-operation retries (`DEFAULT`), the Kubernetes client's per-request resend of 429s
(`THROTTLE`) and its discovery reads.

A policy retries what its `retry_if` accepts; by default a `ProviderError` whose type is retryable
(Throttled, Unreachable, Timeout, ServerError). A server's Retry-After is read from the error's
`retry_after` attribute.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from ecpctl.kernel.errors import ProviderError

T = TypeVar("T")

ATTEMPTS = 6
BASE = 0.5          # seconds: the first backoff is drawn from [BASE / 2, BASE]
CAP = 8.0           # no backoff is drawn from a wider window than [CAP / 2, CAP]
RETRY_AFTER_CAP = 4 * CAP   # a server's Retry-After is honoured up to this many seconds
DEADLINE = 120.0    # no retry starts after this long since the first attempt


def retryable_provider_error(exc: BaseException) -> bool:
    """The default test: a ProviderError whose type says the failure is transient."""
    return isinstance(exc, ProviderError) and exc.retryable


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, how far apart and for how long an operation is tried again."""

    attempts: int = ATTEMPTS
    base: float = BASE
    cap: float = CAP
    deadline: float = DEADLINE
    retry_after_cap: float = RETRY_AFTER_CAP

    def backoff(self, attempt: int, retry_after: float | None = None, *,
                rand: Callable[[float, float], float] = random.uniform) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): a random point in the
        upper half of an exponentially growing window ("equal jitter"), added to the server's
        Retry-After (itself capped). The upper half, not all of it: with full jitter the waits of
        all attempts can add up to almost nothing, and a server restart of two seconds failed an
        apply by bad luck; this way six attempts always span 7.75 to 15.5 s. Added to Retry-After,
        not max'ed with it: clients told "Retry-After: 1" together must not all come back at the
        same instant."""
        window = min(self.cap, self.base * 2 ** (attempt - 1))
        delay = rand(window / 2, window)
        if retry_after is not None and retry_after > 0:
            delay += min(retry_after, self.retry_after_cap)
        return delay

    def call(self, fn: Callable[[], T], *,
             retry_if: Callable[[BaseException], bool] = retryable_provider_error,
             on_retry: Callable[[BaseException, float], None] | None = None,
             sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic) -> T:
        """fn(), tried again after each failure `retry_if` accepts, until it succeeds, fails
        otherwise, runs out of attempts, or the next wait would end past the deadline; then the
        last error is raised as it is."""
        start = clock()
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except Exception as exc:
                if attempt == self.attempts or not retry_if(exc):
                    raise
                delay = self.backoff(attempt, getattr(exc, "retry_after", None))
                if clock() - start + delay > self.deadline:
                    raise
                if on_retry:
                    on_retry(exc, delay)
                sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def with_attempts(self, attempts: int) -> RetryPolicy:
        return replace(self, attempts=attempts)

    def within(self, seconds: float) -> RetryPolicy:
        """This policy, retrying no longer than `seconds` (what is left of a larger deadline)."""
        return replace(self, deadline=max(0.0, min(self.deadline, seconds)))


DEFAULT = RetryPolicy()
# A request the API server shed with 429 is sent again, as client-go does: more often than an
# operation is retried, within a shorter deadline (the operation's own retries come on top).
THROTTLE = RetryPolicy(attempts=10, deadline=60.0)


def backoff(attempt: int, retry_after: float | None = None, *, base: float = BASE,
            cap: float = CAP, rand: Callable[[float, float], float] = random.uniform) -> float:
    """DEFAULT's backoff with another base or cap; see `RetryPolicy.backoff`."""
    return RetryPolicy(base=base, cap=cap).backoff(attempt, retry_after, rand=rand)


def with_retries(fn: Callable[[], T], *, attempts: int = ATTEMPTS, base: float = BASE,
                 cap: float = CAP, deadline: float = DEADLINE,
                 on_retry: Callable[[ProviderError, float], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """fn() under a policy with these bounds, retrying retryable ProviderErrors."""
    policy = RetryPolicy(attempts=attempts, base=base, cap=cap, deadline=deadline)
    return policy.call(fn, on_retry=on_retry, sleep=sleep)  # type: ignore[arg-type]


__all__ = ["RetryPolicy", "DEFAULT", "THROTTLE", "backoff", "with_retries",
           "retryable_provider_error", "ATTEMPTS", "BASE", "CAP", "RETRY_AFTER_CAP", "DEADLINE"]
