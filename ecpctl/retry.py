"""Retries of retryable provider errors: exponential backoff with full jitter, honouring Retry-After,
always bounded in attempts and total time."""

from __future__ import annotations

import random
import time
from typing import Callable, TypeVar

from ecpctl.diagnostics import ProviderError

T = TypeVar("T")


def with_retries(fn: Callable[[], T], *, attempts: int = 6, base: float = 0.5, cap: float = 8.0,
                 deadline: float = 120.0, on_retry: Callable[[ProviderError, float], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    start = time.monotonic()
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except ProviderError as exc:
            if not exc.retryable or attempt == attempts:
                raise
            delay = random.uniform(0, min(cap, base * 2 ** (attempt - 1)))
            if exc.retry_after is not None:
                delay = max(delay, min(exc.retry_after, cap * 4))
            if time.monotonic() - start + delay > deadline:
                raise
            if on_retry:
                on_retry(exc, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
