"""GPU sharing and per-tenant catalog overrides: the documents' large tenant (5 services in 6 GPUs,
callbot at 3 replicas) sized with a MIG profile and an override; time-sliced GPUs; the quota of
each GPU resource; `calc --explain` naming the service that pushes a tenant past its tier."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecpctl.cli.main import cli
from ecpctl.config.models import PriceTable, Tenant
from ecpctl.engine import desired_state
from ecpctl.sizing import GpuShares, SizingError, size_tenant
from ecpctl.sizing_explain import explain
from providers.kubernetes.capacity import check_placement

PRICE = PriceTable()
MIG = "nvidia.com/mig-3g.40gb"
LARGE_SERVICES = {"callbot": 100, "chatbot": 300, "advisor": 100, "stt": 100, "nlp": 200}
# the product manifest runs callbot at 3 replicas; NLP shares GPUs as two MIG halves
DOC_OVERRIDES = {"callbot": {"sessionsPerReplica": 35}, "nlp": {"gpuResource": MIG}}

PROJECT = f"""\
apiVersion: ecp.ai/v1
kind: Project
metadata: {{name: sharing}}
spec:
  gpuResources:
    {MIG}: {{perGpu: 2}}
"""


def tenant(services: dict, overrides: dict | None = None, preset="large",
           availability="99.9%") -> Tenant:
    return Tenant.model_validate({
        "apiVersion": "ecp.ai/v1", "kind": "Tenant", "metadata": {"name": "global-call-center"},
        "spec": {"preset": preset, "services": services, "sla": {"availability": availability},
                 "serviceOverrides": overrides or {}}})


def test_the_documents_large_tenant_fits_six_gpus_with_a_mig_profile():
    s = size_tenant(tenant(LARGE_SERVICES, DOC_OVERRIDES), PRICE, shares=GpuShares({MIG: 2}))
    assert s.preset == "large" and len(s.services) == 5
    assert {x.service: x.replicas for x in s.services} == {
        "callbot": 3, "chatbot": 3, "advisor": 2, "stt": 2, "nlp": 2}
    nlp = s.service("nlp")
    assert (nlp.gpu_resource, nlp.total_gpu, nlp.gpus) == (MIG, 2, Fraction(1))
    assert (s.total_gpu, s.physical_gpus) == (6, Fraction(6))
    # whole GPUs: the tier's 6 less NLP's one; MIG: what is left of 6 after the 5 whole, in halves
    hard = s.quota_hard()
    assert (hard["requests.nvidia.com/gpu"], hard[f"requests.{MIG}"]) == ("5", "2")
    # half a GPU per NLP replica costs half a GPU-hour
    assert nlp.monthly_cost == size_tenant(tenant({"nlp": 200}), PRICE).service("nlp").monthly_cost \
        - Decimal("0.35") * 730


def test_without_sharing_the_same_tenant_is_past_large_naming_the_gpus():
    with pytest.raises(SizingError) as info:
        size_tenant(tenant(LARGE_SERVICES, {"callbot": {"sessionsPerReplica": 35}}), PRICE)
    assert "preset 'large' is too small for these services (GPUs 7 > 6)" in str(info.value)
    assert info.value.path == ("spec", "preset")


def test_time_sliced_gpus_count_as_a_share_of_one():
    t = tenant({"callbot": 100, "stt": 100}, preset="auto")
    whole = size_tenant(t, PRICE)
    shared = size_tenant(t, PRICE, shares=GpuShares({"nvidia.com/gpu": 2}))
    assert (whole.total_gpu, whole.preset) == (4, "large")
    # 4 replicas x 1 nvidia.com/gpu on GPUs time-sliced 2 ways: 2 physical GPUs, so medium holds it
    assert (shared.total_gpu, shared.physical_gpus, shared.preset) == (2, Fraction(2), "medium")
    assert shared.quota_hard()["requests.nvidia.com/gpu"] == "4"      # medium's 2 GPUs x 2 ways
    assert (shared.service("callbot").total_gpu, shared.service("callbot").gpus) == (2, 1)


def test_a_deployment_requests_its_gpu_resource_by_name(tmp_path: Path):
    (tmp_path / "project.yaml").write_text(PROJECT)
    (tmp_path / "t.yaml").write_text(_tenant_yaml(DOC_OVERRIDES))
    d = desired_state(tmp_path)
    by = {r.address: r for r in d.resources}
    nlp = by["tenant.global-call-center.kubernetes.apps/v1.Deployment.nlp"].attributes
    pod = nlp["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"][MIG] == "1"
    assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"]
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    callbot = by["tenant.global-call-center.kubernetes.apps/v1.Deployment.callbot"].attributes
    assert callbot["spec"]["replicas"] == 3
    quota = next(r.attributes for r in d.resources if r.type == "v1.ResourceQuota")
    assert quota["spec"]["hard"][f"requests.{MIG}"] == "2"


def _tenant_yaml(overrides: dict, preset: str = "large") -> str:
    return json.dumps({
        "apiVersion": "ecp.ai/v1", "kind": "Tenant", "metadata": {"name": "global-call-center"},
        "spec": {"preset": preset, "services": LARGE_SERVICES, "sla": {"availability": "99.9%"},
                 "serviceOverrides": overrides}}, indent=1)


def test_an_inconsistent_override_is_one_line_at_its_field(tmp_path: Path):
    (tmp_path / "project.yaml").write_text(PROJECT)
    (tmp_path / "t.yaml").write_text(
        _tenant_yaml({"chatbot": {"cpu": {"request": "1"}}}))       # the catalog's limit: 500m
    r = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert r.exit_code == 1
    (line,) = [x for x in r.output.splitlines() if x.strip()]
    assert "t.yaml:" in line and "spec.serviceOverrides.chatbot: chatbot: CPU request 1000m is " \
        "above its limit 500m" in line
    (tmp_path / "t.yaml").write_text(_tenant_yaml({"nlp": {"gpuResource": "mig 1g"}}))
    r = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert r.exit_code == 1 and "spec.serviceOverrides.nlp.gpuResource: must be an extended " \
        "resource name" in r.output and "Traceback" not in r.output


def test_explain_names_the_service_that_pushes_past_the_tier():
    e = explain(tenant({"callbot": 150, "chatbot": 100, "advisor": 25}, preset="auto"))
    assert (e.tier, e.below) == ("large", "medium")
    (gpus,) = [o for o in e.overruns if o.resource == "gpus"]
    assert (gpus.need, gpus.limit, gpus.pushed_by) == (3, 2, "callbot")
    assert e.fits_below_without == ("callbot",)
    assert e.headroom["gpus"] == 3
    # above the largest tier: explained against it
    big = explain(tenant({"callbot": 400}, preset="auto"))
    assert (big.tier, big.below, big.overruns[-1].pushed_by) == ("large+", "large", "callbot")


def test_calc_explain_human_and_json(tmp_path: Path):
    (tmp_path / "project.yaml").write_text(PROJECT)
    (tmp_path / "t.yaml").write_text(_tenant_yaml(DOC_OVERRIDES))
    r = CliRunner().invoke(cli, ["calc", str(tmp_path), "--explain"])
    assert r.exit_code == 0, r.output
    assert "Why global-call-center is large:" in r.output
    assert "past medium: GPUs 6 > 2, pushed by callbot (callbot 3, stt 2, nlp 1)" in r.output
    assert f"2 {MIG}" in r.output
    r = CliRunner().invoke(cli, ["calc", str(tmp_path), "--explain", "--json"])
    doc = json.loads(r.output)
    (e,) = doc["explain"]
    assert e["tier"] == "large" and e["below"] == "medium"
    assert {o["resource"]: o["pushed_by"] for o in e["overruns"]}["gpus"] == "callbot"
    assert doc["tenants"][0]["total"]["physical_gpus"] == 6
    assert "explain" not in json.loads(
        CliRunner().invoke(cli, ["calc", str(tmp_path), "--json"]).output)


def test_a_two_gpu_replica_from_an_override_fits_in_total_but_on_no_node(tmp_path: Path):
    (tmp_path / "project.yaml").write_text(PROJECT)
    (tmp_path / "t.yaml").write_text(json.dumps({
        "apiVersion": "ecp.ai/v1", "kind": "Tenant", "metadata": {"name": "acme"},
        "spec": {"services": {"callbot": 50}, "sla": {"availability": "99.5%"},
                 "serviceOverrides": {"callbot": {"gpusPerReplica": 2}}}}))
    d = desired_state(tmp_path)
    callbot = next(r for r in d.resources if r.type == "apps/v1.Deployment")
    assert d.sizings["acme"].preset == "medium"          # 2 GPUs: past small's 1
    nodes = [{"metadata": {"name": n, "labels": {}}, "spec": {},
              "status": {"allocatable": {"cpu": "16", "memory": "64Gi", "nvidia.com/gpu": "2",
                                         "pods": "110"}}} for n in ("n1", "n2")]
    running = [{"metadata": {"namespace": "other", "labels": {}},
                "spec": {"nodeName": n, "containers": [
                    {"resources": {"requests": {"nvidia.com/gpu": "1"}}}]},
                "status": {"phase": "Running"}} for n in ("n1", "n2")]
    assert check_placement([callbot], nodes, [], [], strict=False) == []
    (diag,) = check_placement([callbot], nodes, running, [], strict=False)
    assert diag.summary == (
        "tenant acme: 1 pod of callbot needs 2 nvidia.com/gpu each, but beside what the cluster "
        "already runs the most free on one node is 1 (node n1; 2 free in total)")
