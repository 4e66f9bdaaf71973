"""Sizing: the product's reference scenarios, the replica and HA rules, presets, quota and cost."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecpctl.catalog import ServiceCatalog, default_catalog
from ecpctl.cli.main import cli
from ecpctl.config import load_config
from ecpctl.config.models import PriceTable, Tenant
from ecpctl.kernel.quantity import format_cpu, format_memory, parse_cpu, parse_memory, parse_memory_bytes
from ecpctl.sizing import SizingError, preset_problem, replicas_for, size_tenant

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PRICE = PriceTable()


def tenant(services: dict, availability="99.5%", preset="auto", **spec) -> Tenant:
    return Tenant.model_validate({
        "apiVersion": "ecp.ai/v1", "kind": "Tenant", "metadata": {"name": "t"},
        "spec": {"preset": preset, "services": services, "sla": {"availability": availability},
                 **spec}})


# ---------------------------------------------------------------- reference scenarios

def test_ai_call_center_prod_is_large_and_fits():
    s = size_tenant(tenant({"callbot": 100, "chatbot": 200, "advisor": 50, "stt": 100, "tts": 100},
                           "99.95%"), PRICE)
    assert (s.preset, s.requested_preset, s.ha) == ("large", "auto", True)
    assert {x.service: x.replicas for x in s.services} == {
        "callbot": 2, "chatbot": 2, "advisor": 2, "stt": 2, "tts": 2}
    assert (s.cpu_limit_m, s.memory_limit_mi, s.gpu_limit) == (45000, 65536, 6)
    assert (s.total_cpu_limit_m, s.total_memory_limit_mi, s.total_gpu) == (14000, 28672, 6)
    assert s.total_cpu_limit_m <= 45000 and s.total_memory_limit_mi <= 64 * 1024 and s.total_gpu <= 6
    assert (s.total_cpu_request_m, s.total_memory_request_mi) == (3200, 7168)
    assert s.monthly_cost == Decimal("1651.99")
    assert s.quota_hard() == {
        "limits.cpu": "45", "limits.memory": "64Gi", "requests.cpu": "45",
        "requests.memory": "64Gi", "requests.nvidia.com/gpu": "6", "pods": "25"}


def test_global_call_center_fits_large():
    s = size_tenant(tenant({"callbot": 100, "chatbot": 300, "advisor": 100, "stt": 100, "nlp": 200},
                           "99.9%", preset="large"), PRICE)
    assert s.preset == "large" and len(s.services) == 5
    assert (s.total_cpu_limit_m, s.total_memory_limit_mi, s.total_gpu) == (14500, 29696, 6)
    assert s.service("chatbot").replicas == 3


def test_my_ai_service_is_medium():
    s = size_tenant(tenant({"callbot": 50, "chatbot": 100, "advisor": 25}, "99.9%"), PRICE)
    assert s.preset == "medium"
    assert [(x.service, x.replicas) for x in s.services] == [
        ("callbot", 2), ("chatbot", 2), ("advisor", 2)]
    # within the medium tier (8 CPU, 16Gi, 2 GPUs), with room left for a rolling update
    assert (s.total_cpu_limit_m, s.total_memory_limit_mi, s.total_gpu) == (6000, 12288, 2)
    assert s.quota_hard()["limits.cpu"] == "8" and s.quota_hard()["limits.memory"] == "16Gi"


def test_test_ai_service_is_small():
    s = size_tenant(tenant({"chatbot": 10}, "99.5%", preset="small", demo=True), PRICE)
    assert (s.preset, s.ha, s.total_gpu) == ("small", False, 0)
    (chat,) = s.services
    assert (chat.replicas, chat.max_replicas, chat.min_available) == (1, 2, 0)
    assert (chat.image, chat.port) == ("ecp-ai/chatbot:latest", 8080)
    assert s.quota_hard()["limits.cpu"] == "4" and s.quota_hard()["limits.memory"] == "8Gi"
    assert s.monthly_cost == Decimal("7.67")


def test_examples_through_calc_json():
    result = CliRunner().invoke(cli, ["calc", str(EXAMPLES), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["format_version"] == "1.0" and doc["command"] == "calc" and doc["ok"]
    by_id = {t["tenant"]: t for t in doc["tenants"]}
    assert {k: v["preset"] for k, v in by_id.items()} == {
        "ai-call-center-prod": "large", "global-call-center": "large",
        "my-ai-service": "medium", "test-ai-service": "small"}
    assert {k: v["total"]["gpus"] for k, v in by_id.items()} == {
        "ai-call-center-prod": 6, "global-call-center": 6, "my-ai-service": 2, "test-ai-service": 0}
    acc = by_id["ai-call-center-prod"]
    assert acc["monthly_cost"] == "1651.99" and acc["currency"] == "USD"
    assert acc["quota"]["hard"]["requests.nvidia.com/gpu"] == "6"
    callbot = acc["services"][0]
    assert callbot["service"] == "callbot" and callbot["per_replica"] == {
        "cpu_request": "200m", "cpu_limit": "2", "memory_request": "512Mi", "memory_limit": "4Gi",
        "gpus": 1, "gpu_resource": "nvidia.com/gpu"}
    assert doc["total"]["gpus"] == 14
    assert doc["total"]["monthly_cost"] == str(sum(Decimal(t["monthly_cost"]) for t in doc["tenants"]))


def test_calc_human_output():
    result = CliRunner().invoke(cli, ["calc", str(EXAMPLES / "my-ai-service.yaml")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "my-ai-service" in out and "medium" in out and "556.99" in out
    assert "quota medium: 8 CPU, 16Gi, 2 GPUs (t4)" in out


# ---------------------------------------------------------------- rules

@pytest.mark.parametrize("sessions,per,ha,expected", [
    (0, 50, False, 0), (0, 50, True, 0), (1, 50, False, 1), (50, 50, False, 1), (51, 50, False, 2),
    (1, 50, True, 2), (150, 50, True, 3), (10, 100, False, 1),
])
def test_replica_rule(sessions, per, ha, expected):
    assert replicas_for(sessions, per, ha) == expected


def test_zero_sessions_are_not_deployed():
    s = size_tenant(tenant({"callbot": 0, "chatbot": 10}), PRICE)
    assert [x.service for x in s.services] == ["chatbot"]


@pytest.mark.parametrize("availability,ha", [("99.5%", False), ("99.89%", False), ("99.9%", True),
                                             ("99.99%", True)])
def test_ha_threshold(availability, ha):
    s = size_tenant(tenant({"chatbot": 10}, availability), PRICE)
    assert s.ha is ha
    assert s.services[0].replicas == (2 if ha else 1)
    assert s.services[0].min_available == (1 if ha else 0)


def test_autoscaling_bounds():
    s = size_tenant(tenant({"chatbot": 300}, autoscaling={"maxReplicasFactor": 3}), PRICE)
    assert (s.services[0].replicas, s.services[0].max_replicas) == (3, 9)
    assert s.pods_limit == 9 + 1
    s = size_tenant(tenant({"chatbot": 300}, autoscaling={"enabled": False}), PRICE)
    assert s.services[0].max_replicas == 3


def test_auto_picks_the_smallest_tier_that_fits():
    assert size_tenant(tenant({"chatbot": 10}), PRICE).preset == "small"
    assert size_tenant(tenant({"callbot": 100}), PRICE).preset == "medium"   # 2 GPUs
    assert size_tenant(tenant({"callbot": 150}), PRICE).preset == "large"    # 3 GPUs


def test_auto_above_large_computes_a_quota():
    s = size_tenant(tenant({"callbot": 500, "chatbot": 9050}, "99.95%"), PRICE)
    assert s.preset == "large+"
    assert s.total_gpu == 10 and s.gpu_limit == 10
    assert s.total_cpu_limit_m == 10 * 2000 + 91 * 500 == 65500
    assert s.cpu_limit_m == 66000            # rounded up to whole CPUs
    assert s.memory_limit_mi == 10 * 4096 + 91 * 1024 == 134144   # 131Gi, whole GiB already
    assert s.quota_hard()["limits.cpu"] == "66" and s.quota_hard()["limits.memory"] == "131Gi"
    # a load that only exceeds large in GPUs keeps large's CPU and memory
    s = size_tenant(tenant({"callbot": 350}), PRICE)
    assert (s.preset, s.gpu_limit, s.cpu_limit_m, s.memory_limit_mi) == ("large+", 7, 45000, 65536)


def test_explicit_preset_too_small():
    t = tenant({"callbot": 100, "stt": 100}, preset="medium")
    with pytest.raises(SizingError) as info:
        size_tenant(t, PRICE)
    assert info.value.path == ("spec", "preset")
    assert str(info.value) == ("preset 'medium' is too small for these services (GPUs 3 > 2); "
                               "use preset 'large' or auto")
    assert preset_problem(t) is not None
    assert preset_problem(tenant({"callbot": 10}, preset="small")) is None


def test_explicit_preset_above_large_suggests_auto():
    with pytest.raises(SizingError, match="use preset auto for a computed quota"):
        size_tenant(tenant({"callbot": 1000}, preset="large"), PRICE)


def test_larger_preset_than_needed_is_kept():
    s = size_tenant(tenant({"chatbot": 10}, preset="large"), PRICE)
    assert (s.preset, s.cpu_limit_m) == ("large", 45000)


def test_rollout_surges_only_where_the_quota_has_room():
    s = size_tenant(tenant({"callbot": 100, "chatbot": 200, "advisor": 50, "stt": 100, "tts": 100},
                           "99.95%"), PRICE)
    rollout = {x.service: (x.max_surge, x.max_unavailable) for x in s.services}
    # all 6 GPUs of large are in use: GPU services replace pods in place, CPU-only ones surge
    assert rollout == {"callbot": (0, 1), "stt": (0, 1), "tts": (0, 1),
                       "chatbot": (1, 0), "advisor": (1, 0)}
    s = size_tenant(tenant({"callbot": 50}, preset="medium"), PRICE)   # 1 of 2 GPUs in use
    assert (s.services[0].max_surge, s.services[0].max_unavailable) == (1, 0)


# ---------------------------------------------------------------- cost

def test_cost_formula_uses_requests_and_whole_gpus():
    price = PriceTable(hoursPerMonth=Decimal("100"), cpuCoreHour=Decimal("1"),
                       memoryGiBHour=Decimal("2"), gpuHour={"t4": Decimal("10")})
    s = size_tenant(tenant({"callbot": 100}), price)  # 2 replicas: 400m, 1Gi requested, 2 GPUs
    expected = Decimal(100) * (Decimal("0.4") * 1 + Decimal(1) * 2 + 2 * 10)
    assert s.monthly_cost == expected.quantize(Decimal("0.01")) == Decimal("2240.00")
    assert s.currency == "USD"


def test_cost_uses_the_tenant_gpu_type():
    t4 = size_tenant(tenant({"callbot": 50}), PRICE).monthly_cost
    a100 = size_tenant(tenant({"callbot": 50}, gpuType="a100"), PRICE).monthly_cost
    assert a100 - t4 == Decimal(730) * (Decimal("2.5") - Decimal("0.35"))


def test_gpu_type_without_price():
    with pytest.raises(SizingError, match="GPU type 'h100' has no price") as info:
        size_tenant(tenant({"callbot": 50}, gpuType="h100"), PRICE)
    assert info.value.path == ("spec", "gpuType")
    # a tenant without GPU services needs no GPU price
    assert size_tenant(tenant({"chatbot": 5}, gpuType="h100"), PRICE).total_gpu == 0


# ---------------------------------------------------------------- catalog and quantities

def test_catalog_matches_the_product_numbers():
    cat = default_catalog()
    callbot = cat.service("callbot")
    assert (callbot.cpu_request_m, callbot.memory_request_mi) == (200, 512)
    assert (callbot.cpu_limit_m, callbot.memory_limit_mi, callbot.gpus_per_replica) == (2000, 4096, 1)
    assert {n for n, p in cat.services.items() if p.uses_gpu} == {"callbot", "stt", "tts", "nlp"}
    assert cat.preset_order == ("small", "medium", "large")
    assert [(p.cpu_m, p.memory_mi, p.gpus) for p in cat.presets.values()] == [
        (4000, 8192, 1), (8000, 16384, 2), (45000, 65536, 6)]


def test_catalog_rejects_unordered_presets(tmp_path):
    f = tmp_path / "cat.yaml"
    text = (Path(__file__).resolve().parents[2] / "ecpctl/catalog/services.yaml").read_text()
    f.write_text(text.replace('cpu: "4"\n', 'cpu: "40"\n'))
    with pytest.raises(ValueError, match="smallest first"):
        ServiceCatalog.from_file(f)


@pytest.mark.parametrize("text,m", [("200m", 200), ("2", 2000), ("0.5", 500), ("1.5", 1500),
                                    (2, 2000), ("45", 45000), ("0.0001", 1)])
def test_parse_cpu(text, m):
    assert parse_cpu(text) == m


@pytest.mark.parametrize("text,mi", [("512Mi", 512), ("4Gi", 4096), ("64Gi", 65536), ("1G", 954),
                                     ("1.5Gi", 1536), ("134217728", 128), ("1Ti", 1048576)])
def test_parse_memory(text, mi):
    assert parse_memory(text) == mi


def test_parse_memory_bytes():
    assert parse_memory_bytes("1Ki") == 1024 and parse_memory_bytes("129e6") == 129_000_000


@pytest.mark.parametrize("bad", ["", "m", "2 cores", "-1", "1.2.3", True])
def test_parse_cpu_rejects(bad):
    with pytest.raises(ValueError):
        parse_cpu(bad)


@pytest.mark.parametrize("bad", ["", "4GB", "Gi", "-1Gi", True])
def test_parse_memory_rejects(bad):
    with pytest.raises(ValueError):
        parse_memory(bad)


@pytest.mark.parametrize("m,text", [(200, "200m"), (2000, "2"), (45000, "45"), (2500, "2500m"), (0, "0")])
def test_format_cpu(m, text):
    assert format_cpu(m) == text
    assert parse_cpu(text) == m


@pytest.mark.parametrize("mi,text", [(512, "512Mi"), (4096, "4Gi"), (65536, "64Gi"), (1536, "1536Mi"),
                                     (1048576, "1Ti"), (0, "0")])
def test_format_memory(mi, text):
    assert format_memory(mi) == text
    assert parse_memory(text) == mi


def test_examples_gpu_total():
    cfg = load_config(EXAMPLES)
    sizes = [size_tenant(lt.tenant, cfg.project.spec.price) for lt in cfg.tenants]
    assert sum(s.total_gpu for s in sizes) == 14
