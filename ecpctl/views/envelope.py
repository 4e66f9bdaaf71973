"""The one JSON envelope of every `--json` output, on success and on failure (docs/json-output.md).

    {"format_version": "1.0", "ecpctl_version": ..., "command": "plan", "ok": true,
     ...the command's own keys..., "diagnostics": [...]}

`format_version` changes its major number only when a key is removed or changes meaning.
"""

from __future__ import annotations

import json
from typing import Any
from collections.abc import Iterable, Mapping

from ecpctl import __version__
from ecpctl.kernel.diagnostics import Diagnostic, Severity

FORMAT_VERSION = "1.0"


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    return {"severity": d.severity.value, "summary": d.summary, "detail": d.detail or None,
            "address": d.address, "file": d.file, "line": d.line, "column": d.column,
            "field": d.field, "message": d.one_line()}


def envelope(command: str, body: Mapping[str, Any] | None = None, *,
             diagnostics: Iterable[Diagnostic] = (), ok: bool | None = None) -> dict[str, Any]:
    """`ok` defaults to "no error among the diagnostics"."""
    diags = tuple(diagnostics)
    if ok is None:
        ok = not any(d.severity is Severity.ERROR for d in diags)
    doc: dict[str, Any] = {"format_version": FORMAT_VERSION, "ecpctl_version": __version__,
                           "command": command, "ok": ok}
    doc.update(body or {})
    doc["diagnostics"] = [diagnostic_json(d) for d in diags]
    return doc


def dumps(doc: Mapping[str, Any], *, indent: int | None = 2) -> str:
    return json.dumps(doc, indent=indent, ensure_ascii=False) + "\n"
