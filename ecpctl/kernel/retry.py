"""Retries of retryable provider errors: exponential backoff with full jitter, honouring Retry-After,
always bounded in attempts and total time."""

from __future__ import annotations

import random
import time
from typing import Callable, TypeVar

from ecpctl.kernel.errors import ProviderError

T = TypeVar("T")

ATTEMPTS = 6
BASE = 0.5          # seconds: the first backoff is drawn from [BASE / 2, BASE]
CAP = 8.0           # no backoff is drawn from a wider window than [CAP / 2, CAP]
RETRY_AFTER_CAP = 4 * CAP   # a server's Retry-After is honoured up to this many seconds
DEADLINE = 120.0    # no retry starts after this long since the first attempt


def backoff(attempt: int, retry_after: float | None = None, *, base: float = BASE,
            cap: float = CAP, rand: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): a random point in the upper
    half of an exponentially growing window ("equal jitter"), added to the server's Retry-After
    (itself capped). The upper half, not all of it: with full jitter the waits of all attempts can
    add up to almost nothing, and a server restart of two seconds failed an apply by bad luck;
    this way six attempts always span 7.75 to 15.5 s. Added to Retry-After, not max'ed with it:
    clients told "Retry-After: 1" together must not all come back at the same instant."""
    window = min(cap, base * 2 ** (attempt - 1))
    delay = rand(window / 2, window)
    if retry_after is not None and retry_after > 0:
        delay += min(retry_after, RETRY_AFTER_CAP)
    return delay


def with_retries(fn: Callable[[], T], *, attempts: int = ATTEMPTS, base: float = BASE,
                 cap: float = CAP, deadline: float = DEADLINE,
                 on_retry: Callable[[ProviderError, float], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    start = time.monotonic()
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except ProviderError as exc:
            if not exc.retryable or attempt == attempts:
                raise
            delay = backoff(attempt, exc.retry_after, base=base, cap=cap)
            if time.monotonic() - start + delay > deadline:
                raise
            if on_retry:
                on_retry(exc, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
