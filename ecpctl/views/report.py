"""One view interface for the commands that report a result, with a human and a JSON implementation.

A command builds its result as data, picks one `View` once (from `--json`), and calls `show`:

- `HumanView` prints warnings on stderr, then hands the result to the command's render function
  (rich, on stdout);
- `JsonView` prints exactly one envelope (ecpctl/views/envelope.py) on stdout: the command's own
  keys from its body function, and every diagnostic, warnings included.

Failures never reach a view: the CLI prints them (and, in JSON mode, the failure envelope) in one
place, ecpctl/cli/output.py `fail`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from rich.console import Console

from ecpctl.kernel.diagnostics import Diagnostic
from ecpctl.views.envelope import dumps, envelope

PIPED_WIDTH = 120

R = TypeVar("R", contravariant=True)
T = TypeVar("T")


class View(Protocol[R]):
    def show(self, result: R, diagnostics: Sequence[Diagnostic] = ()) -> None: ...


@dataclass(frozen=True)
class HumanView(Generic[T]):
    """Text for people: `render(console, result)`; warnings as `warn(diagnostics)` on stderr."""

    render: Callable[[Console, T], None]
    console: Console
    warn: Callable[[Sequence[Diagnostic]], None]

    def show(self, result: T, diagnostics: Sequence[Diagnostic] = ()) -> None:
        if diagnostics:
            self.warn(diagnostics)
        if not self.console.is_terminal:
            # piped or captured: nothing to wrap for, and a table cut at 80 columns reads badly
            self.console.width = max(self.console.width, PIPED_WIDTH)
        self.render(self.console, result)


@dataclass(frozen=True)
class JsonView(Generic[T]):
    """The one envelope of `command`, its own keys from `body(result)`."""

    command: str
    body: Callable[[T], Mapping[str, Any]]

    def show(self, result: T, diagnostics: Sequence[Diagnostic] = ()) -> None:
        sys.stdout.write(dumps(envelope(self.command, self.body(result), diagnostics=diagnostics)))
        sys.stdout.flush()


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
