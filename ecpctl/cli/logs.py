"""Standard `logging`, off by default: `-v` (info: every API request, SQL statement and HTTP call
with its duration and outcome), `-vv` (debug), or ECPCTL_LOG=info|debug. Records go to stderr, or
to ECPCTL_LOG_FILE, each through the same secret scrubbing as every other output."""

from __future__ import annotations

import logging
import os

from ecpctl.kernel.scrub import scrub

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}


class ScrubFilter(logging.Filter):
    """Renders each record's message once, scrubbed, so no handler sees the raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            import traceback
            record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


def level_for(verbosity: int) -> int | None:
    env = os.environ.get("ECPCTL_LOG", "").strip().lower()
    if verbosity >= 2:
        return logging.DEBUG
    if verbosity == 1:
        return logging.INFO
    return LEVELS.get(env)


def configure(verbosity: int) -> None:
    level = level_for(verbosity)
    if level is None:
        return
    path = os.environ.get("ECPCTL_LOG_FILE")
    handler: logging.Handler = logging.FileHandler(path) if path else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubFilter())
    for name in ("ecpctl", "providers", "state"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)
