"""`ecpctl sla`: each tenant's service level over a period, from Prometheus' HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from ecpctl.cli.options import DURATION, json_option
from ecpctl.cli.report import choose
from ecpctl.kernel import EcpctlError

BREACH_EXIT = 3   # documented in the help and docs/cli-reference.md: CI gates use it


@dataclass(frozen=True)
class SlaArgs:
    tenants: tuple[str, ...]
    spec_path: Path
    period: float
    prometheus_url: str | None
    as_json: bool


@click.command("sla")
@click.argument("tenants", nargs=-1, metavar="[TENANT]...")
@click.option("-p", "--path", "spec_path", default=".", show_default=True,
              type=click.Path(exists=True, path_type=Path),
              help="Spec files that declare the tenants and their availability targets.")
@click.option("--period", default="1h", show_default=True, type=DURATION, metavar="DURATION",
              help="The period to report on, ending now (30m, 1h, 1d, ...).")
@click.option("--prometheus-url", envvar="ECPCTL_PROMETHEUS_URL", default=None, metavar="URL",
              help="Prometheus to query (overrides the Project's providers.prometheus.url; env "
                   "ECPCTL_PROMETHEUS_URL).")
@json_option("the report")
@click.pass_context
def sla_cmd(ctx: click.Context, **opts) -> None:
    """Report each tenant's availability against its SLA target, from Prometheus.

    For the period: availability (1 - 5xx / all requests), meeting or breaching the tenant's
    sla.availability, error budget remaining, the current burn rates of the SLO alert windows,
    downtime (time with the error ratio above the budget), incidents and mean time to recover.
    Works against any Prometheus that scrapes the services and loads ecpctl's rules.

    \b
    Exit codes, for CI gates:
      0  every tenant meets its target
      3  a tenant breaches its target, or has no requests in the period
      1  an error (bad specs, Prometheus unreachable, ...)"""
    sla(ctx, SlaArgs(**opts))


def sla(ctx: click.Context, args: SlaArgs) -> None:
    from ecpctl.views.sla import sla_human, sla_json

    view = choose(ctx, "sla", args.as_json, human=sla_human, body=sla_json)
    report = _collect(args)
    view.show(report)
    if report.breaching:
        ctx.exit(BREACH_EXIT)


def _collect(args: SlaArgs):
    from ecpctl.config import load_config
    from ecpctl.sla import collect
    from providers.prometheus.server import PrometheusAPI

    if args.period <= 0:
        raise EcpctlError("--period must be longer than 0s")
    config = load_config(args.spec_path)
    targets = {lt.tenant.metadata.name: lt.tenant.spec.sla.availability for lt in config.tenants}
    unknown = [t for t in args.tenants if t not in targets]
    if unknown:
        raise EcpctlError(f"no tenant {', '.join(unknown)} in {args.spec_path}"
                          + (f" (it has: {', '.join(sorted(targets))})" if targets else ""))
    if args.tenants:
        targets = {t: targets[t] for t in args.tenants}
    url = args.prometheus_url
    if not url:
        block = config.project.spec.providers.prometheus
        url = str(block.url) if block is not None and block.url else None
    if not url:
        raise EcpctlError("no Prometheus to ask: set providers.prometheus.url in the Project, "
                          "or --prometheus-url (env ECPCTL_PROMETHEUS_URL)")
    api = PrometheusAPI(url, timeout=30)
    try:
        return collect(api, url, targets, args.period)
    finally:
        api.close()
