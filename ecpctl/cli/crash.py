"""An unexpected exception ends as one line and a crash file, never a raw traceback on the terminal.

The file (mode 0600, in the system's temporary directory, so a read-only command still writes
nothing where it runs) holds the scrubbed traceback, the command line and the version.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import click

from ecpctl import __version__
from ecpctl.kernel.scrub import scrub

CRASH_DIR_ENV = "ECPCTL_CRASH_DIR"


def crash_dir() -> Path:
    return Path(os.environ.get(CRASH_DIR_ENV) or tempfile.gettempdir())


def write_crash_file(exc: BaseException) -> Path:
    directory = crash_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"ecpctl-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    text = (f"ecpctl {__version__}\ncommand: {' '.join(sys.argv)}\n\n"
            + "".join(traceback.format_exception(exc)))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(scrub(text))
    return path


def one_line(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return scrub(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)


def report(ctx: click.Context, exc: BaseException) -> None:
    """Print `internal error: ...` (and the JSON envelope in JSON mode) and exit 1."""
    try:
        where = f"details in {write_crash_file(exc)}"
    except OSError as err:
        where = f"no crash file could be written: {err.strerror or err}"
    message = f"internal error: {one_line(exc)} ({where})"
    from ecpctl.cli.output import fail
    from ecpctl.kernel.errors import EcpctlError
    fail(ctx, EcpctlError(message), prefix="")
