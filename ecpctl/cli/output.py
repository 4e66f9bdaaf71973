"""Console helpers: colour only on a TTY without NO_COLOR, errors as one line on stderr."""

from __future__ import annotations

import os
import sys

import click

from rich.console import Console

from ecpctl.cli.argv import JSON_META
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


def print_error(exc: EcpctlError, *, prefix: str = "Error: ") -> None:
    if exc.diagnostics:
        print_diagnostics(exc.diagnostics)
        return
    con = console(err=True)
    if prefix:
        con.print(f"[bold red]{prefix.rstrip()}[/] ", end="")
    con.print(str(exc), markup=False)


COMMAND_META = "ecpctl.command"


def command_name(ctx: click.Context) -> str:
    """The running command's path without `ecpctl` (`plan`, `state list`)."""
    return ctx.meta.get(COMMAND_META) or (ctx.invoked_subcommand or "")


def error_diagnostics(exc: EcpctlError) -> tuple[Diagnostic, ...]:
    if exc.diagnostics:
        return exc.diagnostics
    return (Diagnostic.error(str(exc), address=getattr(exc, "address", None)),)


def fail(ctx: click.Context, exc: EcpctlError, *, prefix: str = "Error: ", code: int = 1):
    """The one way a command fails: one line per problem on stderr; in JSON mode the failure
    envelope on stdout as well; then the exit code."""
    if ctx.meta.get(JSON_META):
        from ecpctl.views.envelope import dumps, envelope
        body = getattr(exc, "json_body", None)
        click.echo(dumps(envelope(command_name(ctx), body, diagnostics=error_diagnostics(exc),
                                  ok=False)), nl=False)
    print_error(exc, prefix=prefix)
    sys.exit(code)


def fail_usage(ctx: click.Context, exc: click.UsageError) -> None:
    """A usage error in JSON mode: the envelope on stdout; click then prints its usage text."""
    from ecpctl.views.envelope import dumps, envelope
    click.echo(dumps(envelope(command_name(ctx), None, diagnostics=(
        Diagnostic.error(exc.format_message()),), ok=False)), nl=False)


__all__ = ["console", "use_colour", "print_diagnostics", "print_error", "fail", "fail_usage",
           "command_name", "Diagnostic"]
