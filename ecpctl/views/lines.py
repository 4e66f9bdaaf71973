"""Writing many short lines to a rich console at the cost of a file write, not of a layout pass.

`Console.print` measures, wraps and renders every call: about 0.1-0.7 ms a line on this project's
machines, which an apply of 10,000 objects pays twice per object (its progress lines) and a plan
of them once per printed attribute. A line of styled spans needs none of that: it is written as
its text, with the ANSI codes of its styles when the console shows colour.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style
from rich.text import Text

_SYSTEMS = {"standard": ColorSystem.STANDARD, "256": ColorSystem.EIGHT_BIT,
            "truecolor": ColorSystem.TRUECOLOR, "windows": ColorSystem.WINDOWS}


class LineWriter:
    """Lines to `con`'s file, styled like `con.print` would style them, without its layout."""

    def __init__(self, con: Console):
        self.con = con
        system = None if con.no_color else con.color_system
        self._system = _SYSTEMS.get(system) if system else None
        self._styles: dict[str, Style] = {}

    def _ansi(self, text: str, style: str | Style | None) -> str:
        if not style or self._system is None or not text:
            return text
        if isinstance(style, str):
            parsed = self._styles.get(style)
            if parsed is None:
                parsed = self._styles[style] = Style.parse(style)
            style = parsed
        return style.render(text, color_system=self._system)

    def render(self, text: Text | str, style: str | None = None) -> str:
        """One line as it will be written (ANSI codes only when the console shows colour)."""
        if isinstance(text, str):
            return self._ansi(text, style)
        if self._system is None:
            return text.plain
        if not text.spans:          # rich's Text.render leaves a span-less text's own style out
            return self._ansi(text.plain, text.style or style)
        return "".join(self._ansi(seg.text, seg.style) for seg in text.render(self.con, end=""))

    def write(self, lines: Iterable[Text | str], style: str | None = None) -> None:
        """Each of `lines` on a line of its own, in one write."""
        if self.con.record:
            # a recording console (export_text/export_html) keeps only what went through print
            for t in lines:
                self.con.print(t if isinstance(t, Text) else Text(t, style=style or ""))
            return
        out = "".join(self.render(t, style) + "\n" for t in lines)
        if out:
            self.con.file.write(out)
            self.con.file.flush()

    def line(self, text: Text | str, style: str | None = None) -> None:
        self.write((text,), style)
