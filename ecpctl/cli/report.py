"""How a command picks its view, once: `--json` gives the JSON envelope, otherwise text for people.

Naming the command here also names it in the failure envelope that `output.fail` prints, so a
command calls `choose` (or `name`) before anything can fail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click
from rich.console import Console

from ecpctl.cli.output import COMMAND_META, console, print_diagnostics
from ecpctl.views.report import HumanView, JsonView, View

T = TypeVar("T")

def name(ctx: click.Context, command: str) -> None:
    """The command's path without `ecpctl` (`state list`), for the failure envelope."""
    ctx.meta[COMMAND_META] = command


def choose(ctx: click.Context, command: str, as_json: bool, *,
           human: Callable[[Console, T], None], body: Callable[[T], Mapping[str, Any]]) -> View[T]:
    name(ctx, command)
    if as_json:
        return JsonView(command, body)
    return HumanView(human, console(), print_diagnostics)
