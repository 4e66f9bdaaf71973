"""`ecpctl sandbox`: a local control plane with kwok nodes, Postgres, Prometheus, Alertmanager and
the workload simulator, started in the background on loopback; and its failure scenarios."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ecpctl.cli.options import DURATION
from ecpctl.kernel import EcpctlError

DIR_HELP = "Sandbox directory (env ECPCTL_SANDBOX_DIR; default .ecpctl/sandbox here)."


def _layout(directory: Path | None):
    from ecpctl.sandbox.layout import Layout, default_dir
    return Layout(directory.resolve() if directory else default_dir())


def _need_running(directory: Path | None):
    from ecpctl.sandbox.lifecycle import running
    lay = _layout(directory)
    rec = running(lay)
    if rec is None:
        raise EcpctlError(f"no sandbox is running in {lay.root} (start one: ecpctl sandbox up)")
    return lay, rec


dir_option = click.option("--dir", "directory", type=click.Path(path_type=Path),
                          envvar="ECPCTL_SANDBOX_DIR", help=DIR_HELP)


@click.group("sandbox")
def sandbox_group():
    """Run a local Kubernetes with GPU nodes, Postgres, Prometheus and Alertmanager.

    The sandbox runs in the background on loopback, with a workload simulator whose metrics carry
    the names real exporters use, and failure scenarios (`ecpctl sandbox fault`)."""


@sandbox_group.command("up")
@dir_option
@click.option("--nodes", default=3, show_default=True, type=click.IntRange(1, 100),
              help="Number of fake (kwok) nodes.")
@click.option("--gpus-per-node", default=2, show_default=True, type=click.IntRange(0, 16),
              help="nvidia.com/gpu capacity of each node.")
@click.option("--gpu-product", default="Tesla-T4", show_default=True,
              help="The nodes' nvidia.com/gpu.product label.")
@click.option("--timeout", default="4m", type=DURATION, show_default=True, metavar="DURATION",
              help="How long to wait for every component to be ready.")
def up_cmd(directory, nodes, gpus_per_node, gpu_product, timeout):
    """Start a sandbox in the background (binaries from KUBEBUILDER_ASSETS, PATH, or built)."""
    from ecpctl.sandbox import lifecycle
    lay = _layout(directory)
    res = lifecycle.up(lay, nodes=nodes, gpus_per_node=gpus_per_node, gpu_product=gpu_product,
                       timeout=timeout, log=lambda m: click.echo(m, err=True))
    if res.already_running:
        click.echo(f"A sandbox is already running in {lay.root} "
                   f"(pid {res.record['supervisor_pid']}).")
    else:
        click.echo(f"Sandbox up in {res.seconds:.1f}s: {nodes} nodes with "
                   f"{gpus_per_node} GPUs each, in {lay.root}.")
    _print_usage(res.record)


def _print_usage(rec: dict) -> None:
    rows = [("kubernetes", rec["server"]), ("postgres", rec["postgres_dsn"]),
            ("prometheus", rec["prometheus_url"]), ("alertmanager", rec["alertmanager_url"]),
            ("simulator", rec["simulator_url"] + "/metrics"), ("project", rec["project"])]
    for name, value in rows:
        click.echo(f"  {name:<13} {value}")
    click.echo(f"\nsource {rec['env']}    # KUBECONFIG, ECPCTL_POSTGRES_DSN, PATH (kubectl)")
    click.echo("Copy project.yaml next to your tenant files to plan and apply against it; "
               "stop it with: ecpctl sandbox down")


@sandbox_group.command("down")
@dir_option
def down_cmd(directory):
    """Stop the sandbox and delete its data."""
    from ecpctl.sandbox import lifecycle
    lay = _layout(directory)
    if lifecycle.down(lay):
        click.echo(f"Sandbox in {lay.root} stopped.")
    else:
        click.echo(f"No sandbox is running in {lay.root}.")


@sandbox_group.command("status")
@dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_cmd(directory, as_json):
    """Show whether the sandbox runs, its components, endpoints and active faults."""
    from ecpctl.sandbox import faults, lifecycle
    lay = _layout(directory)
    rec = lifecycle.running(lay)
    if rec is None:
        if as_json:
            click.echo(json.dumps({"running": False, "dir": str(lay.root)}))
        else:
            click.echo(f"No sandbox is running in {lay.root}.")
        raise SystemExit(3)
    health = lifecycle.health(rec)
    active = [f for f in faults.load(lay.faults) if f.active()]
    if as_json:
        click.echo(json.dumps({"running": True, **rec, "components": health,
                               "faults": [f.__dict__ for f in active]}, indent=2))
        return
    click.echo(f"Sandbox running in {lay.root} (pid {rec['supervisor_pid']}, "
               f"since {rec['started_at']}).")
    for name, state in sorted(health.items()):
        click.echo(f"  {name:<24} {state}")
    _print_usage(rec)
    for f in active:
        click.echo(f"fault {f.id}: {f.scenario} on {f.tenant}"
                   + (f"/{f.service}" if f.service else "") + (f" (node {f.node})" if f.node else ""))


@sandbox_group.command("env")
@dir_option
def env_cmd(directory):
    """Print the shell exports of the running sandbox (eval "$(ecpctl sandbox env)")."""
    lay, _ = _need_running(directory)
    click.echo(lay.env_sh.read_text(), nl=False)


@sandbox_group.command("build")
def build_cmd():
    """Build the control-plane binaries that neither KUBEBUILDER_ASSETS nor PATH provides."""
    from ecpctl.sandbox import binaries, build
    try:
        res = binaries.ensure(lambda m: click.echo(m, err=True))
    except build.BuildError as exc:
        raise EcpctlError(f"build failed: {exc}") from exc
    for line in res.describe():
        click.echo(line)


@sandbox_group.command("fault")
@dir_option
@click.argument("tenant", required=False)
@click.argument("scenario", required=False)
@click.option("--service", default=None, help="Only this service of the tenant (default: all).")
@click.option("--for", "for_", default=None, type=DURATION, metavar="DURATION",
              help="Clear the fault by itself after this long.")
@click.option("--clear", is_flag=True, help="Clear the faults (of TENANT, or all).")
@click.option("--list", "list_", is_flag=True, help="List the scenarios and what they do.")
def fault_cmd(directory, tenant, scenario, service, for_, clear, list_):
    """Inject a failure scenario into a tenant's services, or clear it (--clear)."""
    from ecpctl.sandbox import faults
    if list_:
        for name, (does, alert) in faults.SCENARIOS.items():
            click.echo(f"{name}\n  changes: {does}\n  fires:   {alert}")
        return
    lay, rec = _need_running(directory)
    if clear:
        gone = faults.clear(lay.faults, tenant, scenario)
        click.echo(f"Cleared {len(gone)} fault(s)." if gone else "No fault to clear.")
        return
    if not tenant or not scenario:
        raise click.UsageError("give TENANT and SCENARIO, or --clear, or --list")
    if scenario not in faults.SCENARIOS:
        raise click.UsageError(f"unknown scenario {scenario!r}; one of: "
                               + ", ".join(faults.SCENARIOS))
    from ecpctl.sandbox.inject import check_target, choose_node
    check_target(rec, tenant, service)
    node = choose_node(rec, tenant, service, gpus=scenario == "gpu_loss") \
        if scenario in ("node_down", "gpu_loss") else None
    f = faults.new_fault(tenant, scenario, service, node, for_)
    faults.add(lay.faults, f)
    does, alert = faults.SCENARIOS[scenario]
    click.echo(f"Fault {f.id}: {scenario} on {tenant}" + (f"/{service}" if service else "")
               + (f", node {node}" if node else "") + (f", for {for_:g}s" if for_ else "") + ".")
    click.echo(f"  changes: {does}\n  fires:   {alert}")
