"""Rendered output on the real API server: the Argo CD Applications and ApplicationSet of
`render --argocd` pass a server-side dry run with Argo CD's own CRDs installed, and objects that a
GitOps tool applied from the rendered files are never taken by `ecpctl` for its own."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.integration.kubernetes_support import kube_cli, ns, unique  # noqa: F401 (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.kube]

CRDS = Path(__file__).resolve().parents[1] / "testenv" / "crds"
ARGO = "repoURL=https://git.example.com/ecp-manifests.git,path=tenants,project=default"


@pytest.fixture(scope="module")
def argocd_crds(control_plane):
    """Argo CD's Application and ApplicationSet CRDs (upstream, tests/testenv/crds/README.md) and
    the argocd namespace."""
    for f in ("application-crd.yaml", "applicationset-crd.yaml"):
        control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS / f))
    deadline = time.monotonic() + 60
    names = ["applications.argoproj.io", "applicationsets.argoproj.io"]
    while True:
        got = control_plane.kubectl_json("get", "crd", *names)
        done = [c for c in got.get("items", []) if any(
            x["type"] == "Established" and x["status"] == "True"
            for x in (c.get("status") or {}).get("conditions") or [])]
        if len(done) == 2:
            break
        assert time.monotonic() < deadline, "Argo CD CRDs not Established after 60s"
        time.sleep(0.3)
    if control_plane.kubectl("get", "namespace", "argocd", check=False).returncode != 0:
        control_plane.kubectl("create", "namespace", "argocd")
    return control_plane


def _items(stdout: str) -> list[dict]:
    doc = json.loads(stdout)
    return doc.get("items", [doc])


@pytest.mark.parametrize("flags", [(), ("--argocd-applicationset",)])
def test_rendered_applications_pass_a_server_side_dry_run(argocd_crds, kube_cli, tmp_path, flags):
    tid = unique("argo")
    kube_cli.tenant(tid, {"chatbot": 20, "callbot": 10}, autoscaling=True)
    out = tmp_path / "out"
    kube_cli.ok("render", str(kube_cli.spec), "-o", str(out), "--argocd", ARGO, *flags)
    r = argocd_crds.kubectl("apply", "--server-side", "--dry-run=server", "-o", "json",
                            "--field-manager=argocd-tests", "-f", str(out / "_argocd"))
    got = _items(r.stdout)
    if flags:
        assert [o["kind"] for o in got] == ["ApplicationSet"]
        tpl = got[0]["spec"]["template"]["spec"]
        # fields the CRD's schema did not know would have been pruned by the server
        assert tpl["ignoreDifferences"][0]["managedFieldsManagers"] == ["kube-controller-manager"]
        assert got[0]["spec"]["generators"][0]["git"]["directories"][1] == {
            "path": "tenants/_*", "exclude": True}
        spec = tpl
    else:
        assert [(o["kind"], o["metadata"]["name"]) for o in got] == [("Application", ns(tid))]
        spec = got[0]["spec"]
        assert {(i["kind"], i.get("name")) for i in spec["ignoreDifferences"]} == {
            ("Deployment", "chatbot"), ("Deployment", "callbot")}
    assert spec["syncPolicy"] == {"automated": {"prune": True, "selfHeal": True},
                                  "syncOptions": ["CreateNamespace=true",
                                                  "RespectIgnoreDifferences=true"]}


def test_objects_a_gitops_tool_applied_are_never_taken_for_ecpctls(argocd_crds, kube_cli, tmp_path):
    tid = unique("gitops")
    kube_cli.tenant(tid, {"chatbot": 20, "callbot": 10}, autoscaling=True)
    out = tmp_path / "out"
    kube_cli.ok("render", str(kube_cli.spec), "-o", str(out))
    # a Secret's place holds comments only: kubectl (like Argo CD) applies the directory anyway
    examples = Path(__file__).resolve().parents[2] / "examples"
    kube_cli.ok("render", str(examples), "-o", str(tmp_path / "ex"), "--tenant", "my-ai-service")
    note = (tmp_path / "ex" / "my-ai-service" / "05-secret-ecp-ai-db.yaml").read_text()
    (out / tid / "05-secret-ecp-ai-db.yaml").write_text(note)
    argocd_crds.kubectl("apply", "--server-side", "--field-manager=argocd-controller",
                        "-f", str(out / tid))
    space = ns(tid)
    assert argocd_crds.kubectl("get", "secret", "ecp-ai-db", "-n", space,
                               check=False).returncode != 0

    def snapshot() -> dict:
        got = argocd_crds.kubectl_json("get", "deployments,services,configmaps,prometheusrules",
                                       "-n", space, "--show-managed-fields")
        return {(o["kind"], o["metadata"]["name"]): (
            o["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            sorted({m["manager"] for m in o["metadata"]["managedFields"]}))
            for o in got["items"] if o["metadata"].get("labels", {}).get(
                "app.kubernetes.io/part-of") == "ecp-ai"}

    before = snapshot()
    assert len(before) >= 6
    assert all(label == "ecpctl-render" and "ecpctl" not in managers
               for label, managers in before.values())
    # ecpctl's reads select managed-by=ecpctl: the rendered objects are not among them
    mine = argocd_crds.kubectl_json("get", "deployments,services,configmaps,prometheusrules",
                                    "-n", space, "-l", "app.kubernetes.io/managed-by=ecpctl")
    assert mine["items"] == []

    for args in (("plan", str(kube_cli.spec)), ("plan", str(kube_cli.spec), "--json"),
                 ("apply", str(kube_cli.spec), "--auto-approve")):
        r = kube_cli(*args)
        assert r.exit_code == 1, r.output
        err = r.stderr if "--json" in args else r.output
        assert "conflict: field manager \"argocd-controller\" owns" in err
        assert "app.kubernetes.io/managed-by" in err
    assert snapshot() == before                       # nothing adopted, changed or deleted
    r = kube_cli.ok("state", "list")
    assert tid not in r.output
    r = kube_cli("destroy", str(kube_cli.spec), "--auto-approve")    # state holds none of them
    assert r.exit_code == 0, r.output
    assert snapshot() == before
