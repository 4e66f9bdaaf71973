"""Option groups shared by plan, apply and destroy."""

from __future__ import annotations

import click


def plan_options(fn):
    opts = [
        click.option("--target", "targets", multiple=True, metavar="ADDR|TENANT",
                     help="Limit to resources matching an address glob or tenant id (repeatable); "
                          "their dependencies are included."),
        click.option("--exclude", "excludes", multiple=True, metavar="ADDR|TENANT",
                     help="Leave out resources matching an address glob or tenant id (repeatable), "
                          "and what depends on them."),
        click.option("--refresh/--no-refresh", default=True, show_default=True,
                     help="Read live objects from the providers; --no-refresh compares with state alone."),
        click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 256),
                     help="Operations run at once."),
        click.option("-replace", "--replace", "replace", multiple=True, metavar="ADDR",
                     help="Force replacement of a resource (repeatable); for a Postgres role this "
                          "rotates its password."),
        click.option("--strict", is_flag=True, help="Treat capacity warnings as errors."),
        click.option("--kubeconfig", envvar="KUBECONFIG", default=None, metavar="PATH",
                     help="Kubeconfig for the kubernetes provider (overrides the Project; env KUBECONFIG)."),
        click.option("--context", "kube_context", default=None, metavar="NAME",
                     help="Kubeconfig context to use."),
        click.option("--lock-timeout", default=0.0, type=float, metavar="SECONDS", show_default=True,
                     help="Wait this long for the state lock before failing."),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


def apply_options(fn):
    opts = [
        click.option("--auto-approve", is_flag=True, help="Skip the interactive confirmation."),
        click.option("--force-conflicts", is_flag=True,
                     help="Take ownership of Kubernetes fields that another field manager owns."),
        click.option("--wait/--no-wait", default=True, show_default=True,
                     help="Wait until applied objects are ready (Deployments available, ...)."),
        click.option("--timeout", default=300.0, type=float, show_default=True, metavar="SECONDS",
                     help="How long to wait for each object to become ready."),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


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

