"""Entry point: the `ecpctl` click group, global options, and the single place errors become exit codes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ecpctl import __version__
from ecpctl.cli.context import CliContext
from ecpctl.kernel import EcpctlError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class EcpctlGroup(click.Group):
    """Runs commands so that an EcpctlError prints as `Error: <one line>` and exits 1, no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EcpctlError as exc:
            from ecpctl.cli.output import print_error
            print_error(exc)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)


@click.group(cls=EcpctlGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="ecpctl")
@click.option("--state-url", envvar="ECPCTL_STATE_URL", default=None, metavar="URL",
              help="State database URL (default: SQLite at .ecpctl/state.db). Env: ECPCTL_STATE_URL.")
@click.option("--workspace", "-w", envvar="ECPCTL_WORKSPACE", default=None, metavar="NAME",
              help="Workspace to use instead of the selected one. Env: ECPCTL_WORKSPACE.")
@click.option("--data-dir", default=".ecpctl", show_default=True, type=click.Path(path_type=Path),
              help="Directory for the local state database and workspace selection.")
@click.pass_context
def cli(ctx: click.Context, state_url: str | None, workspace: str | None, data_dir: Path) -> None:
    """ecpctl: plan and apply ECP-AI tenants on Kubernetes, Postgres, Grafana and Alertmanager."""
    obj = CliContext(state_url=state_url, workspace_override=workspace, data_dir=data_dir)
    ctx.obj = obj
    ctx.call_on_close(obj.close)


def _register_commands() -> None:
    from ecpctl.cli import config_cmds, plan_cmds, state_cmds, kube_cmds
    for module in (config_cmds, plan_cmds, state_cmds, kube_cmds):
        module.register(cli)


_register_commands()


def main() -> None:
    cli(prog_name="ecpctl")


if __name__ == "__main__":  # pragma: no cover
    main()
