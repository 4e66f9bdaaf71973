"""Options shared by plan, apply, destroy, import and show, and the typed objects they parse into.

Each command reads its click parameters once into a frozen argument object (`PlanScope`,
`ProviderArgs`, `LockArgs` and the command's own), so the command body never handles loose kwargs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable, Mapping

import click
from click.core import ParameterSource


class Duration(click.ParamType):
    """`30s`, `5m`, `1m30s` (ecpctl.kernel.durations) or bare seconds (`30`, `0.5`) -> seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        from ecpctl.kernel.durations import DurationError, parse_seconds
        try:
            return parse_seconds(value)
        except DurationError as exc:
            self.fail(f"{exc}, or bare seconds", param, ctx)


DURATION = Duration()


def _stack(*decorators: Callable) -> Callable:
    def apply(fn: Callable) -> Callable:
        for d in reversed(decorators):
            fn = d(fn)
        return fn
    return apply


path_argument = click.argument("path", default=".", type=click.Path(exists=True, path_type=Path))


scope_options = _stack(
    click.option("--target", "targets", multiple=True, metavar="ADDR|TENANT",
                 help="Limit to resources matching an address glob or tenant id (repeatable); "
                      "their dependencies are included."),
    click.option("--exclude", "excludes", multiple=True, metavar="ADDR|TENANT",
                 help="Leave out resources matching an address glob or tenant id (repeatable), "
                      "and what depends on them."),
    click.option("--refresh/--no-refresh", default=True, show_default=True,
                 help="Read live objects from the providers; --no-refresh compares with state alone."),
    click.option("--adopt", is_flag=True,
                 help="Take over objects that exist but another workspace or state owns, or "
                      "that carry no ecpctl mark (docs/ownership.md); the plan shows each."),
)

replace_option = click.option(
    "--replace", "replace", multiple=True, metavar="ADDR",
    help="Force replacement of a resource (repeatable); for a Postgres role this rotates its password.")

strict_option = click.option("--strict", is_flag=True, help="Treat capacity warnings as errors.")

parallelism_option = click.option("--parallelism", default=10, show_default=True,
                                  type=click.IntRange(1, 256), help="Operations run at once.")

kube_options = _stack(
    click.option("--kubeconfig", envvar="KUBECONFIG", default=None, metavar="PATH",
                 help="Kubeconfig for the kubernetes provider (overrides the Project; env KUBECONFIG)."),
    click.option("--context", "kube_context", default=None, metavar="NAME",
                 help="Kubeconfig context to use."),
)

lock_options = _stack(
    click.option("--lock/--no-lock", "lock", default=True, show_default=True,
                 help="Hold the workspace's state lock while running (Terraform's -lock=false "
                      "is --no-lock)."),
    click.option("--lock-timeout", default="0s", type=DURATION, metavar="DURATION",
                 show_default=True,
                 help="Wait this long for the state lock before failing (30s, 5m, 1m30s or seconds)."),
)

apply_options = _stack(
    click.option("--auto-approve", is_flag=True, help="Skip the interactive confirmation."),
    click.option("--force-conflicts", is_flag=True,
                 help="Take ownership of Kubernetes fields that another field manager owns."),
    click.option("--wait/--no-wait", default=True, show_default=True,
                 help="Wait until applied objects are ready (Deployments available, ...)."),
    click.option("--timeout", default="30m", type=DURATION, show_default=True, metavar="DURATION",
                 help="How long the whole apply may take (30s, 5m, 1m30s or seconds): past it "
                      "nothing new starts, readiness waits end, and each resource left is "
                      "reported; state keeps what finished."),
    click.option("--wait-timeout", default="5m", type=DURATION, show_default=True,
                 metavar="DURATION", help="How long to wait for each object to become ready."),
)


full_option = click.option(
    "--full", is_flag=True,
    help="Show every attribute of every change; above 100 changes the plan is otherwise "
         "summarized (counts per kind, and each change to an existing object on one line).")


def json_option(what: str) -> Callable:
    return click.option("--json", "as_json", is_flag=True,
                        help=f"Print {what} as JSON (docs/json-output.md).")


# --- typed arguments ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanScope:
    """What a plan covers and how it compares."""

    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    refresh: bool = True
    destroy: bool = False
    adopt: bool = False

    @classmethod
    def parse(cls, p: Mapping[str, Any], *, destroy: bool = False) -> PlanScope:
        return cls(targets=tuple(p.get("targets", ())), excludes=tuple(p.get("excludes", ())),
                   replace=tuple(p.get("replace", ())), refresh=bool(p.get("refresh", True)),
                   destroy=destroy or bool(p.get("destroy", False)),
                   adopt=bool(p.get("adopt", False)))


@dataclass(frozen=True)
class ProviderArgs:
    """How providers connect and behave: kubeconfig, strictness, waiting, parallelism."""

    kubeconfig: str | None = None
    kube_context: str | None = None
    strict: bool = False
    parallelism: int = 10
    force_conflicts: bool = False
    wait: bool = True
    timeout: float = 300.0          # each object's readiness wait (--wait-timeout)

    @classmethod
    def parse(cls, p: Mapping[str, Any]) -> ProviderArgs:
        return cls(kubeconfig=p.get("kubeconfig"), kube_context=p.get("kube_context"),
                   strict=bool(p.get("strict", False)), parallelism=int(p.get("parallelism", 10)),
                   force_conflicts=bool(p.get("force_conflicts", False)),
                   wait=bool(p.get("wait", True)),
                   timeout=float(p.get("wait_timeout", 300.0)))

    def settings(self) -> dict[str, dict]:
        """Per-provider options for ProviderSet."""
        return provider_options(kubeconfig=self.kubeconfig, kube_context=self.kube_context,
                                force_conflicts=self.force_conflicts, wait=self.wait,
                                timeout=self.timeout, strict=self.strict,
                                parallelism=self.parallelism)


@dataclass(frozen=True)
class LockArgs:
    enabled: bool = True
    timeout: float = 0.0

    @classmethod
    def parse(cls, p: Mapping[str, Any]) -> LockArgs:
        return cls(enabled=bool(p.get("lock", True)), timeout=float(p.get("lock_timeout", 0.0)))


def given(ctx: click.Context, name: str) -> bool:
    """True when the user typed the option (not its default nor an environment variable's)."""
    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def provider_options(*, kubeconfig=None, kube_context=None, force_conflicts=False, wait=True,
                     timeout=300.0, strict=False, parallelism=10) -> dict[str, dict]:
    k: dict = {"force_conflicts": force_conflicts, "wait": wait, "timeout": timeout, "strict": strict,
               "parallelism": parallelism}
    if kubeconfig:
        k["kubeconfig"] = kubeconfig
    if kube_context:
        k["context"] = kube_context
    common = {"wait": wait, "timeout": timeout, "parallelism": parallelism}
    return {"kubernetes": k, "postgres": dict(common), "grafana": dict(common),
            "alertmanager": dict(common)}
