"""Terraform's single-dash long options, read as Terraform users type them or refused with a hint.

Click reads `-out=tfplan` as `-o` with the value `ut=tfplan`; nothing here is ever silently misread:
a single-dash word is rewritten to ecpctl's double-dash option when ecpctl has that option, and
refused with a one-line hint otherwise (including a short option glued to its value, `-otfplan`);
a short option glued to `=` (`-o=tfplan`) is read as the option and its value.
"""

from __future__ import annotations

import re

import click

JSON_META = "ecpctl.json"

# Terraform's spelling -> ecpctl's. Only options ecpctl has; a command without one still refuses it.
SAME = ("out", "target", "exclude", "replace", "auto-approve", "detailed-exitcode", "parallelism",
        "lock-timeout", "destroy", "json", "refresh", "no-refresh", "lock", "no-lock", "state-url",
        "workspace", "data-dir", "kubeconfig", "context", "timeout", "no-wait", "wait", "strict",
        "force-conflicts", "help", "version", "verbose")
HINTS = {
    "no-color": "ecpctl uses colour only on a terminal; set NO_COLOR=1 to turn it off",
    "input": "ecpctl never prompts without a terminal; pass --auto-approve to apply without asking",
    "var": "tenant specs have no variables; write the values in the YAML files",
    "var-file": "tenant specs have no variables; write the values in the YAML files",
    "chdir": "pass the spec directory as the PATH argument instead",
    "state": "use --state-url URL (or ECPCTL_STATE_URL)",
    "compact-warnings": "ecpctl prints each warning on one line already",
}
_WORD = re.compile(r"^-([a-z][a-z0-9-]+)(=.*)?$", re.DOTALL)
_VERBOSE = re.compile(r"^-v+$")
# a one-letter option glued to `=` (`-o=tfplan`): click would take `=tfplan` as the value
_SHORT_EQ = re.compile(r"^-([a-zA-Z])=(.*)$", re.DOTALL)
_BOOL = {"true": True, "false": False, "1": True, "0": False}


def _rewrite(name: str, value: str | None) -> str:
    if name in ("refresh", "lock", "wait") and value is not None:
        flag = _BOOL.get(value[1:].lower())
        if flag is None:
            raise click.UsageError(f"-{name}{value}: expected -{name}=true or -{name}=false")
        return f"--{name}" if flag else f"--no-{name}"
    return f"--{name}{value or ''}"


def normalize(args: list[str]) -> list[str]:
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        short = _SHORT_EQ.match(arg)
        if short is not None:
            out += [f"-{short.group(1)}", short.group(2)]
            continue
        m = _WORD.match(arg)
        if m is None or _VERBOSE.match(arg):
            out.append(arg)
            continue
        name, value = m.group(1), m.group(2)
        if name in SAME:
            out.append(_rewrite(name, value))
        elif name in HINTS:
            raise click.UsageError(f"{arg}: Terraform's option has no ecpctl equivalent: {HINTS[name]}")
        else:
            raise click.UsageError(
                f"{arg}: unknown option (ecpctl's long options take two dashes, e.g. --{name}; a "
                f"short option and its value are written apart, e.g. -{name[0]} {name[1:]})")
    return out


def wants_json(args: list[str]) -> bool:
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False
