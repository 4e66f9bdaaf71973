"""Pausing Python's cyclic GC while bulk work builds many small objects.

Decoding 150,000 resources makes millions of dicts; each young-generation collection on the way
would walk the whole growing heap again. None of these objects form cycles, so nothing is lost
by collecting once at the end instead.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from collections.abc import Iterator


@contextmanager
def gc_paused() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
