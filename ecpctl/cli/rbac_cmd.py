"""`ecpctl rbac`: the least-privilege RBAC objects for what the plan of PATH manages, as YAML to
apply with an admin's kubeconfig, and a script that makes a CI kubeconfig from the ServiceAccount."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from ecpctl.cli.output import COMMAND_META
from ecpctl.kernel import EcpctlError


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:   # every object spelled out, never &id001/*id001
        return True


def to_yaml(objects: list[dict]) -> str:
    return "---\n".join(yaml.dump(o, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
                        for o in objects)


def _header(grant) -> str:
    lines = [f"# RBAC for ecpctl as {grant.user}: exactly the rules the plan needs.",
             "# Regenerate with `ecpctl rbac` when tenants add kinds; apply with an admin's kubeconfig.",
             "#"]
    for r in grant.rules:
        lines.append(f"#   {r.resource_name}: {', '.join(r.verbs)}  ({r.why})")
    if grant.namespaced:
        lines.append("# --namespaced: namespaced rules are Roles in the tenant namespaces, which must "
                     "exist before these objects are applied.")
    lines += ["#", "# A kubeconfig for CI from the ServiceAccount's token (TokenRequest API):",
              f"#   kubectl create token {grant.service_account} -n {grant.namespace} --duration=24h",
              "# or run the script `ecpctl rbac PATH -o DIR` writes (DIR/make-kubeconfig.sh).", ""]
    return "\n".join(lines)


@click.command("rbac")
@click.argument("path", default=".", type=click.Path(exists=True, path_type=Path))
@click.option("--namespaced", is_flag=True,
              help="Grant namespaced kinds with a Role per tenant namespace instead of cluster-wide "
                   "(namespaces, nodes and cluster-scoped kinds stay in the ClusterRole).")
@click.option("-o", "--out", "out_dir", default=None, type=click.Path(path_type=Path),
              help="Write rbac.yaml and make-kubeconfig.sh into this directory instead of printing.")
@click.option("--service-account", default="ecpctl", show_default=True, metavar="NAME",
              help="Name of the ServiceAccount (and of its ClusterRole and bindings).")
@click.option("--namespace", default="ecp-system", show_default=True, metavar="NS",
              help="Namespace of the ServiceAccount.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document (docs/json-output.md): rules and objects.")
@click.pass_context
def rbac_cmd(ctx: click.Context, path: Path, namespaced: bool, out_dir: Path | None,
             service_account: str, namespace: str, as_json: bool) -> None:
    """Print least-privilege RBAC for what the plan of PATH manages.

    The rules come from the kinds of the expanded resources: get, list, create, patch and delete on
    each kind the plan manages (server-side apply of a new object is authorized as create), list
    on namespaces, nodes (capacity check), pods and events (readiness and status), and
    horizontalpodautoscalers (replicas an autoscaler owns). Nothing is contacted."""
    from ecpctl import rbac
    from ecpctl.engine import desired_state

    ctx.meta[COMMAND_META] = "rbac"
    desired = desired_state(path, workspace=ctx.obj.workspace if ctx.obj is not None else None)
    grant = rbac.grant_for(desired.resources, service_account=service_account,
                           namespace=namespace, namespaced=namespaced)
    if not grant.rules:
        raise EcpctlError(f"the plan of {path} manages no Kubernetes objects: no RBAC is needed")
    objects = grant.objects()
    if as_json:
        from ecpctl.views.envelope import dumps, envelope
        click.echo(dumps(envelope("rbac", {
            "service_account": {"name": service_account, "namespace": namespace,
                                "user": grant.user},
            "namespaced": namespaced, "rules": [rbac.rule_json(r) for r in grant.rules],
            "objects": objects, "kubeconfig_script": rbac.kubeconfig_script(grant)})), nl=False)
        return
    text = _header(grant) + to_yaml(objects)
    if out_dir is None:
        click.echo(text, nl=False)
        return
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "rbac.yaml").write_text(text)
        script = out_dir / "make-kubeconfig.sh"
        script.write_text(rbac.kubeconfig_script(grant))
        script.chmod(0o755)
    except OSError as exc:
        raise EcpctlError(f"rbac: cannot write {out_dir}: {exc.strerror or exc}") from exc
    click.echo(f"Wrote {out_dir / 'rbac.yaml'} ({len(objects)} objects, {len(grant.rules)} "
               f"resources) and {script}.\nApply: kubectl apply -f {out_dir / 'rbac.yaml'}; "
               f"then {script} writes a kubeconfig for {grant.user}.")
