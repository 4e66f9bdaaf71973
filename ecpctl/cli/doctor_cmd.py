"""`ecpctl doctor`: preflight checks of the configured targets, one line each, exit 1 on a failure."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ecpctl.cli.output import COMMAND_META, console

SYMBOLS = {"pass": ("✔", "green"), "fail": ("✘", "bold red"), "warn": ("!", "yellow"),
           "skip": ("-", "dim")}


@click.command("doctor")
@click.argument("path", default=".", type=click.Path(exists=True, path_type=Path))
@click.option("--kubeconfig", envvar="KUBECONFIG", default=None, metavar="PATH",
              help="Kubeconfig (overrides the Project; env KUBECONFIG).")
@click.option("--context", "kube_context", default=None, metavar="NAME",
              help="Kubeconfig context to use.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document (docs/json-output.md) with every check.")
@click.pass_context
def doctor_cmd(ctx: click.Context, path: Path, kubeconfig: str | None, kube_context: str | None,
               as_json: bool) -> None:
    """Check the prerequisites of the targets the Project at PATH configures.

    One line per check: Kubernetes version (1.24+), ready nodes, the GPU device plugin, the CRDs
    ecpctl's modes need, whether a Prometheus selects ecpctl's rules, the current identity's
    permissions (the rules of `ecpctl rbac`), Postgres version (13+) and the admin role's
    privileges, Alertmanager (0.25+) and Grafana (9.0+). Exits 1 when a check fails; warnings
    (below what the documents recommend) do not fail."""
    from ecpctl.cli.options import provider_options
    from ecpctl.doctor import Status, run_checks
    from ecpctl.engine import desired_state

    ctx.meta[COMMAND_META] = "doctor"
    desired = desired_state(path, workspace=ctx.obj.workspace if ctx.obj is not None else None)
    options = provider_options(kubeconfig=kubeconfig, kube_context=kube_context)["kubernetes"]
    results = run_checks(desired, options)
    failed = [c for c in results if c.status is Status.FAIL]
    counts = {s.value: sum(1 for c in results if c.status is s) for s in Status}
    if as_json:
        from ecpctl.kernel import Diagnostic
        from ecpctl.views.envelope import dumps, envelope
        diags = [Diagnostic.error(f"{c.name}: {c.detail}") for c in failed]
        click.echo(dumps(envelope("doctor", {"checks": [c.to_dict() for c in results],
                                             "counts": counts}, diagnostics=diags)), nl=False)
    else:
        con = console()
        for c in results:
            symbol, style = SYMBOLS[c.status.value]
            con.print(f"[{style}]{symbol}[/] ", end="")
            text = f"{c.name}: {c.detail}"
            if c.fix and c.status in (Status.FAIL, Status.WARN):
                text = text.rstrip(".") + ("" if text.endswith("?") else ".") + f" Fix: {c.fix}"
            con.print(text, markup=False)
        con.print(f"\n{counts['pass']} passed, {counts['fail']} failed, {counts['warn']} "
                  f"warnings, {counts['skip']} skipped.", markup=False)
    if failed:
        sys.exit(1)
