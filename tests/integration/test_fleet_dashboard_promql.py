"""The fleet dashboard's queries under Prometheus' own promtool: each passes `promtool check rules`
as a recording rule, and `promtool test rules` evaluates them over the series kube-state-metrics,
cAdvisor and ecpctl's usage rules publish, for a fleet with a healthy, a degraded and a stopped
tenant beside another workspace's namespace, giving the figures the panels must show."""

from __future__ import annotations

import pytest

from ecpctl.dashboards_fleet import RATE, queries
from tests.integration.test_promtool_rules import check_rules, run_rule_tests

pytestmark = pytest.mark.integration
PREFIX = "ecp-ai-"


def exprs() -> dict[str, str]:
    # $__rate_interval as Grafana would fill it in
    return {k: q.replace(RATE, "5m") for k, q in queries(PREFIX).items()}


def test_every_query_passes_promtool_check(promtool, tmp_path):
    rules = [{"record": f"ecpctl:fleet_{k}", "expr": e} for k, e in exprs().items()]
    check_rules(promtool, [{"name": "fleet", "rules": rules}], tmp_path / "fleet.yml")


def ksm(metric: str, ns: str, deployment: str, value: int) -> dict:
    return {"series": f'{metric}{{job="kube-state-metrics",namespace="{ns}",'
                      f'deployment="{deployment}"}}', "values": f"{value}x15"}


def deployment(ns: str, name: str, desired: int, available: int) -> list[dict]:
    return [ksm("kube_deployment_spec_replicas", ns, name, desired),
            ksm("kube_deployment_status_replicas_available", ns, name, available)]


FLEET = [
    # acme: callbot complete, chatbot 1 of 3 replicas available
    *deployment("ecp-ai-acme", "callbot", 2, 2), *deployment("ecp-ai-acme", "chatbot", 3, 1),
    *deployment("ecp-ai-globex", "chatbot", 1, 1),
    # idle: deployed, nothing available
    *deployment("ecp-ai-idle", "callbot", 1, 0),
    # another workspace's namespace: never counted
    *deployment("ecp-demo-acme", "callbot", 1, 0), *deployment("ecp-demo-beta", "tts", 1, 1),
    {"series": 'cpu_usage{tenant_id="acme",namespace="ecp-ai-acme",service="callbot"}',
     "values": "40x15"},
    {"series": 'cpu_usage{tenant_id="acme",namespace="ecp-ai-acme",service="chatbot"}',
     "values": "60x15"},
    {"series": 'cpu_usage{tenant_id="globex",namespace="ecp-ai-globex",service="chatbot"}',
     "values": "10x15"},
    {"series": 'cpu_usage{tenant_id="acme",namespace="ecp-demo-acme",service="callbot"}',
     "values": "99x15"},
    {"series": 'memory_usage{tenant_id="globex",namespace="ecp-ai-globex",service="chatbot"}',
     "values": "75x15"},
    {"series": 'gpu_usage{tenant_id="acme",namespace="ecp-ai-acme",service="callbot"}',
     "values": "30x15"},
    # one core in callbot's container; the pause container (POD) and cgroup totals are not counted
    {"series": 'container_cpu_usage_seconds_total{namespace="ecp-ai-acme",pod="callbot-1",'
               'container="callbot"}', "values": "0+60x15"},
    {"series": 'container_cpu_usage_seconds_total{namespace="ecp-ai-acme",pod="callbot-1",'
               'container="POD"}', "values": "0+600x15"},
    {"series": 'container_cpu_usage_seconds_total{namespace="ecp-ai-acme",pod="callbot-1",'
               'container=""}', "values": "0+600x15"},
    {"series": 'container_memory_working_set_bytes{namespace="ecp-ai-globex",pod="chatbot-1",'
               'container="chatbot"}', "values": "1073741824x15"},
    {"series": 'kube_pod_container_resource_limits{namespace="ecp-ai-acme",pod="callbot-1",'
               'container="callbot",resource="nvidia_com_gpu",unit="integer"}', "values": "2x15"},
    {"series": 'kube_pod_container_resource_limits{namespace="ecp-ai-acme",pod="callbot-2",'
               'container="callbot",resource="nvidia_com_gpu",unit="integer"}', "values": "1x15"},
    {"series": 'kube_pod_container_resource_limits{namespace="ecp-ai-acme",pod="callbot-2",'
               'container="callbot",resource="cpu",unit="core"}', "values": "4x15"},
]


def case(key: str, samples: list[tuple[dict, float]]) -> dict:
    return {"expr": exprs()[key], "eval_time": "10m",
            "exp_samples": [{"labels": "{" + ",".join(f'{k}="{v}"' for k, v in lbl.items()) + "}",
                             "value": v} for lbl, v in samples]}


def tenant(t: str) -> dict:
    return {"namespace": f"{PREFIX}{t}", "tenant": t}


def test_the_panels_figures_over_a_fleet(promtool, tmp_path):
    tests = [{"interval": "1m", "input_series": FLEET, "promql_expr_test": [
        case("active_tenants", [({}, 2)]),               # acme, globex; idle has none available
        case("tenants_deployed", [({}, 3)]),
        case("success_rate", [({}, 0.5)]),                # 2 of 4 deployments complete
        case("deployments_failing", [({}, 2)]),
        case("success_rate_by_tenant", [(tenant("acme"), 0.5), (tenant("globex"), 1),
                                        (tenant("idle"), 0)]),
        case("cpu_usage", [({"tenant_id": "acme"}, 50), ({"tenant_id": "globex"}, 10)]),
        case("memory_usage", [({"tenant_id": "globex"}, 75)]),
        case("gpu_usage", [({"tenant_id": "acme"}, 30)]),
        case("cpu_cores", [(tenant("acme"), 1)]),
        case("memory_bytes", [(tenant("globex"), 1073741824)]),
        case("gpus_held", [(tenant("acme"), 3)]),
    ]}]
    out = run_rule_tests(promtool, tmp_path, [], tests)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_an_empty_fleet_shows_zero_not_no_data(promtool, tmp_path):
    tests = [{"interval": "1m", "input_series": [
        *deployment("other-ns", "callbot", 1, 1)], "promql_expr_test": [
        case("active_tenants", [({}, 0)]), case("tenants_deployed", [({}, 0)]),
        case("deployments_failing", [({}, 0)])]}]
    out = run_rule_tests(promtool, tmp_path, [], tests)
    assert out.returncode == 0, out.stdout + out.stderr
