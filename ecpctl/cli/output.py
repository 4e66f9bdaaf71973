"""Console helpers: colour only on a TTY without NO_COLOR, errors as one line on stderr."""

from __future__ import annotations

import os
import sys

from rich.console import Console

from ecpctl.kernel import Diagnostic, EcpctlError, Severity


def use_colour(stream=None) -> bool:
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR") or os.environ.get("CLICOLOR_FORCE"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def console(err: bool = False) -> Console:
    stream = sys.stderr if err else sys.stdout
    colour = use_colour(stream)
    con = Console(file=stream, no_color=not colour, force_terminal=colour,
                  color_system="standard" if colour else None, highlight=False,
                  soft_wrap=True, emoji=False)
    # measured once: unpinned, rich asks the OS for the terminal size (three failing ioctls when
    # output is redirected) on every print, 8% of an apply's CPU in its progress lines
    con.size = con.size
    return con


def print_diagnostics(diags, *, err: bool = True) -> None:
    con = console(err=err)
    for d in diags:
        style = "bold red" if d.severity is Severity.ERROR else "yellow"
        label = "Error" if d.severity is Severity.ERROR else "Warning"
        con.print(f"[{style}]{label}:[/] ", end="")
        con.print(d.one_line(), markup=False)


def print_error(exc: EcpctlError) -> None:
    if exc.diagnostics:
        print_diagnostics(exc.diagnostics)
        return
    con = console(err=True)
    con.print("[bold red]Error:[/] ", end="")
    con.print(str(exc), markup=False)


__all__ = ["console", "use_colour", "print_diagnostics", "print_error", "Diagnostic"]
