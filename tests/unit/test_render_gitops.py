"""`ecpctl render` for GitOps: objects spelled out and marked as rendered, no secret in any file,
`--check` as a CI gate (exit 0/2), and the Argo CD Applications / ApplicationSet of `--argocd`."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
import yaml
from ruamel.yaml import YAML
from ruamel.yaml.events import AliasEvent

from ecpctl.engine import desired_state
from ecpctl.kernel import get_path
from ecpctl.kernel.ownership import MANAGED_BY_KEY

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ARGO = "repoURL=https://git.example.com/ecp-manifests.git,path=tenants"


def docs(root: Path) -> dict[str, list]:
    return {p.relative_to(root).as_posix(): [d for d in yaml.safe_load_all(p.read_text()) if d]
            for p in sorted(root.rglob("*.yaml"))}


def test_rendered_objects_are_spelled_out_and_marked_as_rendered(ecpctl, tmp_path):
    out = tmp_path / "out"
    r = ecpctl("render", str(EXAMPLES), "-o", str(out))
    assert r.exit_code == 0, r.output
    found = docs(out)
    objects = [o for objs in found.values() for o in objs]
    assert len(objects) > 90
    for rel in found:
        text = (out / rel).read_text()
        events = list(YAML(typ="safe", pure=True).parse(io.StringIO(text)))
        assert not any(isinstance(e, AliasEvent) or getattr(e, "anchor", None) for e in events), rel
    for o in objects:
        md = o["metadata"]
        assert md["labels"][MANAGED_BY_KEY] == "ecpctl-render", md["name"]
        assert md["annotations"]["ecp.ai/rendered-by"].startswith("ecpctl render")
        assert "managed-by: ecpctl\n" not in yaml.safe_dump(o)
        if o["kind"] == "Deployment":       # selectors keep matching the labels they select
            sel = o["spec"]["selector"]["matchLabels"]
            labels = o["spec"]["template"]["metadata"]["labels"]
            assert labels[MANAGED_BY_KEY] == "ecpctl-render"
            assert all(labels[k] == v for k, v in sel.items())
    assert not any(o["kind"] == "Secret" for o in objects)
    note = (out / "global-call-center" / "05-secret-ecp-ai-alerting.yaml").read_text()
    assert "Secret ecp-ai-alerting (namespace ecp-ai-global-call-center) is not rendered" in note


def _secret_values() -> set[str]:
    """Every generated or sensitive value of the examples, raw and as Kubernetes encodes it."""
    out: set[str] = set()
    for r in desired_state(EXAMPLES).resources:
        for path in r.sensitive:
            value = get_path(r.attributes, path)
            stack = [value]
            while stack:
                v = stack.pop()
                if isinstance(v, dict):
                    stack.extend(v.values())
                elif isinstance(v, list):
                    stack.extend(v)
                elif isinstance(v, str) and len(v) >= 8:
                    out.add(v)
                    try:
                        out.add(base64.b64decode(v, validate=True).decode())
                    except ValueError:
                        out.add(base64.b64encode(v.encode()).decode())
    return out


@pytest.mark.parametrize("flags", [(), ("--argocd", ARGO), ("--argocd", ARGO,
                                                             "--argocd-applicationset")])
def test_no_generated_secret_appears_in_any_rendered_file(ecpctl, tmp_path, flags):
    secrets = _secret_values()
    assert len(secrets) >= 8        # the database passwords and URLs, the webhook URLs, ...
    out = tmp_path / "out"
    r = ecpctl("render", str(EXAMPLES), "-o", str(out), *flags)
    assert r.exit_code == 0, r.output
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert not [s for s in secrets if s in text], path
    assert not [s for s in secrets if s in r.output]


def test_check_exits_2_listing_each_differing_file_and_0_when_they_match(ecpctl, tmp_path):
    out = tmp_path / "out"
    assert ecpctl("render", str(EXAMPLES), "-o", str(out)).exit_code == 0
    (out / "mine.txt").write_text("not rendered, not checked\n")
    r = ecpctl("render", str(EXAMPLES), "--check", str(out))
    assert r.exit_code == 0, r.output
    assert "matches the rendered manifests" in r.output

    dep = out / "my-ai-service" / "06-deployment-chatbot.yaml"
    dep.write_text(dep.read_text().replace("  name: chatbot\n", "  name: chatbot-2\n", 1))
    (out / "test-ai-service" / "07-service-chatbot.yaml").unlink()
    stale = out / "my-ai-service" / "07-service-retired.yaml"
    stale.write_text((out / "my-ai-service" / "07-service-chatbot.yaml").read_text())
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    r = ecpctl("render", str(EXAMPLES), "--check", str(out))
    assert r.exit_code == 2, r.output
    assert r.stdout.splitlines() == [
        "my-ai-service/06-deployment-chatbot.yaml: differs",
        "my-ai-service/07-service-retired.yaml: not rendered any more",
        "test-ai-service/07-service-chatbot.yaml: missing",
    ]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before   # wrote nothing
    # --tenant limits the check to that tenant's directory
    r = ecpctl("render", str(EXAMPLES), "--check", str(out), "--tenant", "ai-call-center-prod")
    assert r.exit_code == 0, r.output
    assert ecpctl("render", str(EXAMPLES), "-o", str(out)).exit_code == 0
    assert not stale.exists() and (out / "mine.txt").exists()
    assert ecpctl("render", str(EXAMPLES), "--check", str(out)).exit_code == 0


def test_check_of_a_missing_directory_lists_every_file(ecpctl, tmp_path):
    r = ecpctl("render", str(EXAMPLES), "--check", str(tmp_path / "nowhere"))
    assert r.exit_code == 2
    assert len(r.stdout.splitlines()) == 111
    assert all(line.endswith(": missing") for line in r.stdout.splitlines())
    assert not (tmp_path / "nowhere").exists()


def test_an_application_per_tenant(ecpctl, tmp_path):
    out = tmp_path / "out"
    r = ecpctl("render", str(EXAMPLES), "-o", str(out), "--argocd",
               ARGO + ",project=ecp,revision=main")
    assert r.exit_code == 0, r.output
    apps = docs(out / "_argocd")
    assert sorted(apps) == ["ai-call-center-prod.yaml", "global-call-center.yaml",
                            "my-ai-service.yaml", "test-ai-service.yaml"]
    app = apps["ai-call-center-prod.yaml"][0]
    assert app["kind"] == "Application" and app["apiVersion"] == "argoproj.io/v1alpha1"
    assert app["metadata"]["name"] == "ecp-ai-ai-call-center-prod"
    assert app["metadata"]["namespace"] == "argocd"
    assert app["metadata"]["labels"][MANAGED_BY_KEY] == "ecpctl-render"
    spec = app["spec"]
    assert spec["project"] == "ecp"
    assert spec["source"] == {"repoURL": "https://git.example.com/ecp-manifests.git",
                              "targetRevision": "main", "path": "tenants/ai-call-center-prod"}
    assert spec["destination"] == {"server": "https://kubernetes.default.svc",
                                   "namespace": "ecp-ai-ai-call-center-prod"}
    assert spec["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert "CreateNamespace=true" in spec["syncPolicy"]["syncOptions"]
    assert "RespectIgnoreDifferences=true" in spec["syncPolicy"]["syncOptions"]
    # exactly the HPA-scaled Deployments (their files carry no replicas) and the left-out Secret
    scaled = sorted(o["metadata"]["name"] for o in (
        d for objs in docs(out / "ai-call-center-prod").values() for d in objs)
        if o["kind"] == "HorizontalPodAutoscaler")
    ignored = {(i["kind"], i.get("name")): i for i in spec["ignoreDifferences"]}
    assert sorted(n for k, n in ignored if k == "Deployment") == scaled and scaled
    assert ignored[("Deployment", scaled[0])]["jsonPointers"] == ["/spec/replicas"]
    assert ignored[("Secret", "ecp-ai-db")]["jsonPointers"] == ["/data", "/stringData"]
    for name in scaled:
        dep = yaml.safe_load((out / "ai-call-center-prod" / f"06-deployment-{name}.yaml").read_text())
        assert "replicas" not in dep["spec"]

    # --tenant rewrites that tenant's Application only; a render without --argocd keeps them all
    (out / "_argocd" / "my-ai-service.yaml").unlink()
    r = ecpctl("render", str(EXAMPLES), "-o", str(out), "--tenant", "my-ai-service",
               "--argocd", ARGO)
    assert r.exit_code == 0, r.output
    assert len(list((out / "_argocd").iterdir())) == 4
    assert docs(out / "_argocd")["ai-call-center-prod.yaml"][0]["spec"]["project"] == "ecp"
    assert ecpctl("render", str(EXAMPLES), "-o", str(out)).exit_code == 0
    assert len(list((out / "_argocd").iterdir())) == 4
    # and --check with the same flags checks the Applications too
    r = ecpctl("render", str(EXAMPLES), "--check", str(out), "--argocd",
               ARGO + ",project=ecp,revision=main")
    assert r.exit_code == 2
    assert r.stdout.splitlines() == ["_argocd/my-ai-service.yaml: differs"]


def test_one_applicationset_replaces_the_applications(ecpctl, tmp_path):
    out = tmp_path / "out"
    assert ecpctl("render", str(EXAMPLES), "-o", str(out), "--argocd", ARGO).exit_code == 0
    r = ecpctl("render", str(EXAMPLES), "-o", str(out), "--argocd", ARGO,
               "--argocd-applicationset")
    assert r.exit_code == 0, r.output
    assert "4 removed" in r.output
    found = docs(out / "_argocd")
    assert list(found) == ["applicationset.yaml"]
    aset = found["applicationset.yaml"][0]
    assert aset["kind"] == "ApplicationSet"
    gen = aset["spec"]["generators"][0]["git"]
    assert gen["directories"] == [{"path": "tenants/*"}, {"path": "tenants/_*", "exclude": True}]
    tpl = aset["spec"]["template"]
    assert tpl["metadata"]["name"] == "ecp-ai-{{.path.basename}}"
    assert tpl["spec"]["source"]["path"] == "{{.path.path}}"
    assert tpl["spec"]["destination"]["namespace"] == "ecp-ai-{{.path.basename}}"
    assert tpl["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert {"group": "apps", "kind": "Deployment",
            "managedFieldsManagers": ["kube-controller-manager"]} in tpl["spec"]["ignoreDifferences"]


@pytest.mark.parametrize("value, message", [
    ("path=tenants", "repoURL required"),
    ("repoURL=https://x", "path required"),
    ("repoURL=https://x,path=tenants,colour=blue", "unknown key 'colour'"),
    ("repoURL=https://x,path=../up", "a directory inside the repository"),
    ("repoURL=https://x,path", "expected key=value"),
])
def test_bad_argocd_settings_are_one_line_and_write_nothing(ecpctl, tmp_path, value, message):
    out = tmp_path / "out"
    r = ecpctl("render", str(EXAMPLES), "-o", str(out), "--argocd", value)
    assert r.exit_code == 1
    assert message in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_write_or_check_one_of_the_two(ecpctl, tmp_path):
    r = ecpctl("render", str(EXAMPLES))
    assert r.exit_code == 1 and "give one of -o/--out DIR" in r.output
    r = ecpctl("render", str(EXAMPLES), "-o", str(tmp_path / "a"), "--argocd-applicationset")
    assert r.exit_code == 1 and "needs --argocd" in r.output
    assert not (tmp_path / "a").exists()
