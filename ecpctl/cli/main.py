"""Entry point: the `ecpctl` click group, global options, and the single place errors become exit codes.

Commands are imported only when they run (`COMMANDS` maps each name to where it lives and to its
one-line help), so `ecpctl --version` and `ecpctl --help` import nothing heavy.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
from pathlib import Path

import click

from ecpctl import __version__
from ecpctl.cli import argv, crash
from ecpctl.cli.context import CliContext

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# name -> ("module:attribute", one-line help shown by `ecpctl --help`). A unit test checks that
# each help line is the command's own first docstring line, so the two cannot drift apart.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("ecpctl.cli.config_cmds:validate_cmd",
                 "Check the spec files at PATH (a file or a directory) and report every problem."),
    "calc": ("ecpctl.cli.config_cmds:calc_cmd",
             "Size every tenant at PATH: replicas, CPU, memory, GPUs, preset and monthly cost."),
    "schema": ("ecpctl.cli.config_cmds:schema_cmd",
               "Write the JSON Schema of the spec files (for editors and CI) into --out."),
    "plan": ("ecpctl.cli.plan_cmd:plan_cmd",
             "Show what apply would change for the tenants in PATH (a file or a directory)."),
    "apply": ("ecpctl.cli.apply_cmds:apply_cmd",
              "Apply the tenants in PATH, or a saved plan file made by `plan -o`."),
    "destroy": ("ecpctl.cli.apply_cmds:destroy_cmd",
                "Destroy everything ecpctl manages for the tenants (all of state, or --target)."),
    "graph": ("ecpctl.cli.graph_cmd:graph_cmd",
              "Print the resource dependency graph (Graphviz dot or Mermaid)."),
    "import": ("ecpctl.cli.import_cmd:import_cmd",
               "Adopt an existing object as ADDRESS; ID is the provider's identifier of it..."),
    "show": ("ecpctl.cli.show_cmd:show_cmd",
             "Print a saved plan (PLANFILE), or the workspace's state when none is given."),
    "workspace": ("ecpctl.cli.state_cmds:workspace_group",
                  "Manage workspaces: separate states (for example demo and production)."),
    "state": ("ecpctl.cli.state_cmds:state_group", "Inspect and edit the recorded state."),
    "force-unlock": ("ecpctl.cli.state_cmds:force_unlock_cmd",
                     "Release a lock whose holder died (its id is in the lock error)."),
    "tenants": ("ecpctl.cli.state_cmds:tenants_cmd",
                "List the tenants registry: tenants, presets, limits and status."),
    "status": ("ecpctl.cli.kube_cmds:status_cmd",
               "Show each tenant's services as the cluster runs them: desired and ready..."),
    "render": ("ecpctl.cli.render_cmd:render_cmd",
               "Write the Kubernetes manifests of the tenants in PATH as YAML files, for..."),
    "rbac": ("ecpctl.cli.rbac_cmd:rbac_cmd",
             "Print least-privilege RBAC for what the plan of PATH manages."),
    "db": ("ecpctl.cli.db_cmds:db_group",
           "Back up and restore tenant databases with pg_dump and pg_restore."),
    "doctor": ("ecpctl.cli.doctor_cmd:doctor_cmd",
               "Check the prerequisites of the targets the Project at PATH configures."),
    "sandbox": ("ecpctl.cli.sandbox_cmds:sandbox_group",
                "Run a local Kubernetes with GPU nodes, Postgres, Prometheus and Alertmanager."),
    "sla": ("ecpctl.cli.sla_cmd:sla_cmd",
            "Report each tenant's availability against its SLA target, from Prometheus."),
}


class EcpctlGroup(click.Group):
    """Runs commands so that every failure ends as one line and a documented exit code:
    an EcpctlError as `Error: <line>` (exit 1), a usage error as click prints it (exit 1, so that
    it never reads as `--detailed-exitcode`'s "changes"), anything unexpected as
    `internal error: ... details in <crash file>` (exit 1). In JSON mode stdout carries the
    failure envelope as well."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            args = argv.normalize(args)
            if argv.wants_json(args):
                ctx.meta[argv.JSON_META] = True
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.exit_code = 1
            raise

    def invoke(self, ctx: click.Context):
        from ecpctl.kernel.errors import EcpctlError
        try:
            return super().invoke(ctx)
        except EcpctlError as exc:
            from ecpctl.cli.output import fail
            fail(ctx, exc)
        except click.UsageError as exc:
            exc.exit_code = 1
            if ctx.meta.get(argv.JSON_META):
                from ecpctl.cli.output import fail_usage
                fail_usage(ctx, exc)
            raise
        except (click.exceptions.Exit, click.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except BrokenPipeError:
            # the reader went away (`ecpctl plan | head`): stop quietly, as a SIGPIPE would,
            # and keep Python from complaining again when it flushes stdout at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
        except Exception as exc:  # noqa: BLE001 - the one place an unexpected error is caught
            crash.report(ctx, exc)

    # ---- lazy commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        if name not in COMMANDS:
            return None
        module_name, attr = COMMANDS[name][0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        self.add_command(command, name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1] if name in COMMANDS
                 else self.commands[name].get_short_help_str(80))
                for name in self.list_commands(ctx)
                if name in COMMANDS or not self.commands[name].hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _configure_logging(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value or os.environ.get("ECPCTL_LOG"):
        from ecpctl.cli import logs
        logs.configure(value)
    return value


@click.group(cls=EcpctlGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="ecpctl")
@click.option("--state-url", envvar="ECPCTL_STATE_URL", default=None, metavar="URL",
              help="State database URL (default: SQLite at .ecpctl/state.db). Env: ECPCTL_STATE_URL.")
@click.option("--workspace", "-w", envvar="ECPCTL_WORKSPACE", default=None, metavar="NAME",
              help="Workspace to use instead of the selected one. Env: ECPCTL_WORKSPACE.")
@click.option("--data-dir", default=".ecpctl", show_default=True, type=click.Path(path_type=Path),
              help="Directory for the local state database and workspace selection.")
@click.option("-v", "--verbose", count=True, expose_value=False, is_eager=True,
              callback=_configure_logging,
              help="Log to stderr: -v requests and statements with their durations, -vv debug. "
                   "Env: ECPCTL_LOG=info|debug.")
@click.pass_context
def cli(ctx: click.Context, state_url: str | None, workspace: str | None, data_dir: Path) -> None:
    """ecpctl: plan and apply ECP-AI tenants on Kubernetes, Postgres, Grafana and Alertmanager."""
    obj = CliContext(state_url=state_url, workspace_override=workspace, data_dir=data_dir)
    ctx.obj = obj
    ctx.call_on_close(obj.close)
    # what the engine froze out of the cyclic GC for the command's length (engine.fewer_collections)
    # is collectable again when it ends: commands run one after another in one process (the tests,
    # a library user) would otherwise keep every cycle of every command's objects
    ctx.call_on_close(gc.unfreeze)


def main() -> None:
    """The console entry point (`ecpctl`, `python -m ecpctl`).

    Once the command has ended, the process leaves without the interpreter's teardown: freeing,
    module by module, every object the command built (a plan of a fleet holds hundreds of
    thousands) took 0.15-0.4 s of a targeted plan among 500 tenants, after the output was already
    written. What the teardown does that matters still happens: the exit handlers run (logging's
    flush, the Kubernetes client's removal of the certificate files it wrote) and the output is
    flushed. Connections and the state store were closed when the command's context closed."""
    try:
        cli(prog_name="ecpctl")
        code = 0
    except SystemExit as exc:
        code = exit_code(exc.code)
    leave(code)


def exit_code(code: object) -> int:
    """The status `sys.exit(code)` gives: None is 0, an int is itself, anything else is printed
    and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def leave(code: int) -> None:
    atexit._run_exitfuncs()         # CPython's own exit handlers, as a normal exit runs them
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a closed pipe (`ecpctl plan | head`) has nothing to lose
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
