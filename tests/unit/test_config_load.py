"""Loading valid spec files: examples, positions, digest, defaults and the model helpers."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from ecpctl.cli.main import cli
from ecpctl.config import load_config
from ecpctl.kernel.durations import DurationError, format_duration, normalize_duration, parse_duration
from ecpctl.config.models import AlertRule, Project, Tenant, default_project
from ecpctl.config.positions import format_path, parse_path
from ecpctl.kernel import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SCENARIOS = ("ai-call-center-prod", "global-call-center", "my-ai-service", "test-ai-service")


@pytest.fixture(scope="module")
def examples():
    return load_config(EXAMPLES)


def test_examples_load(examples):
    assert examples.tenant_ids == tuple(sorted(SCENARIOS))
    assert examples.project.metadata.name == "ecp-ai"
    assert examples.project_file == f"{EXAMPLES}/project.yaml"
    assert examples.warnings == ()
    acc = examples.tenant("ai-call-center-prod").tenant
    assert acc.metadata.displayName == "AI 콜센터 운영"
    assert acc.spec.services == {"callbot": 100, "chatbot": 200, "advisor": 50, "stt": 100, "tts": 100}
    assert acc.spec.sla.availability == Decimal("99.95")
    assert acc.spec.sla.availability_ratio == Decimal("0.9995")
    assert acc.spec.sla.responseTime == 150
    alert = acc.spec.monitoring.alerts[0]
    assert (alert.name, alert.condition, alert.for_, alert.notify) == (
        "high_cpu_usage", "cpu_usage > 80", "5m", ["ops-webhook", "ops-email"])
    assert acc.spec.ingress.host == "acc.ai.example.com"
    assert examples.project.spec.workspaces["demo"].demo is True


@pytest.mark.parametrize("name", [*SCENARIOS, "project"])
def test_each_example_names_its_schema(name):
    first = (EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[0]
    schema = "project" if name == "project" else "tenant"
    assert first == f"# yaml-language-server: $schema=../schemas/{schema}.schema.json"


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_example_loads_alone(name):
    cfg = load_config(EXAMPLES / f"{name}.yaml")
    assert cfg.tenant_ids == (name,)
    assert cfg.project_file is None
    assert cfg.project == default_project()


def test_positions_resolve(examples):
    lt = examples.tenant("ai-call-center-prod")
    lines = (EXAMPLES / "ai-call-center-prod.yaml").read_text(encoding="utf-8").splitlines()

    def text_at(pos):
        line, col = pos
        return lines[line - 1][col - 1:]

    assert text_at(lt.position("metadata", "name")) == "ai-call-center-prod"
    assert text_at(lt.position("spec", "services", "callbot")) == "100"
    assert text_at(lt.position("spec", "monitoring", "alerts", 0, "condition")) == "cpu_usage > 80"
    assert text_at(lt.position("spec.monitoring.alerts[0].for")) == "5m"
    assert text_at(lt.position("spec", "monitoring", "alerts", 0)).startswith("name: high_cpu_usage")
    assert lt.position("spec", "ingress", "className") is None
    d = lt.diagnostic("bad PromQL", "spec", "monitoring", "alerts", 0, "condition")
    line, col = lt.position("spec", "monitoring", "alerts", 0, "condition")
    assert d.one_line() == (f"{lt.file}:{line}:{col}: spec.monitoring.alerts[0].condition: bad PromQL")
    # a field left at its default points at its nearest written parent
    assert lt.diagnostic("x", "spec", "autoscaling", "enabled").line == lt.position("spec")[0]


def test_digest_is_stable_and_order_free(tmp_path, examples):
    assert len(examples.digest) == 64
    assert load_config(EXAMPLES).digest == examples.digest
    # same documents, other file names and layout, reformatted, comments dropped
    other = tmp_path / "other"
    (other / "nested").mkdir(parents=True)
    for i, src in enumerate(sorted(EXAMPLES.glob("*.yaml"), reverse=True)):
        text = "\n".join(line for line in src.read_text(encoding="utf-8").splitlines()
                         if not line.startswith("#"))
        target = other / ("nested" if i % 2 else ".") / f"z{i}.yml"
        target.write_text(text + "\n\n", encoding="utf-8")
    assert load_config(other).digest == examples.digest
    # any change of a value changes it
    changed = tmp_path / "changed"
    shutil.copytree(EXAMPLES, changed)
    f = changed / "my-ai-service.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("advisor: 25", "advisor: 26"), encoding="utf-8")
    assert load_config(changed).digest != examples.digest


def test_hidden_and_other_files_are_skipped(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "junk.yaml").write_text("not: [valid")
    (tmp_path / ".hidden.yaml").write_text("not: [valid")
    (tmp_path / "README.md").write_text("# notes")
    shutil.copy(EXAMPLES / "test-ai-service.yaml", tmp_path / "t.yml")
    assert load_config(tmp_path).tenant_ids == ("test-ai-service",)


def test_multi_document_file(tmp_path):
    docs = [(EXAMPLES / f"{n}.yaml").read_text(encoding="utf-8") for n in ("project", "my-ai-service")]
    (tmp_path / "all.yaml").write_text("---\n".join(docs) + "---\n", encoding="utf-8")
    cfg = load_config(tmp_path / "all.yaml")
    assert cfg.tenant_ids == ("my-ai-service",)
    assert cfg.project_file == str(tmp_path / "all.yaml")
    lt = cfg.tenant("my-ai-service")
    line, _ = lt.position("metadata", "name")
    assert (tmp_path / "all.yaml").read_text().splitlines()[line - 1] == "  name: my-ai-service"


def test_unknown_tenant_lookup(examples):
    with pytest.raises(ConfigError, match="did you mean 'my-ai-service'"):
        examples.tenant("my-ai-servce")


def test_loading_writes_nothing(tmp_path):
    spec = tmp_path / "specs"
    shutil.copytree(EXAMPLES, spec)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    load_config(spec)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_validate_command(tmp_path, monkeypatch):
    # validate expands the specs: the examples' slack receiver would warn without its webhook URL
    monkeypatch.setenv("NOC_SLACK_WEBHOOK_URL", "https://hooks.example.com/x")
    result = CliRunner().invoke(cli, ["validate", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Success! 4 tenants, 1 project in {EXAMPLES} are valid."


def test_defaults():
    t = Tenant.model_validate({"apiVersion": "ecp.ai/v1", "kind": "Tenant",
                               "metadata": {"name": "x"},
                               "spec": {"services": {"chatbot": 1}, "sla": {"availability": 99.5}}})
    s = t.spec
    assert (s.preset, s.gpuType, s.demo) == ("auto", "t4", False)
    assert (s.image.registry, s.image.tag, s.image.pullPolicy) == ("ecp-ai", "latest", "IfNotPresent")
    assert s.sla.responseTime == 200 and s.sla.concurrentUsers is None
    assert (s.database.enabled, s.database.connectionLimit, s.database.encoding,
            s.database.locale) == (True, 50, "UTF8", "C.UTF-8")
    assert (s.autoscaling.enabled, s.autoscaling.maxReplicasFactor,
            s.autoscaling.targetCPUUtilization) == (True, 2, 70)
    assert s.monitoring.dashboards is True and s.ingress is None
    p = default_project().spec
    assert p.monitoring.ruleLabels == {"release": "kube-prometheus-stack"}
    assert (p.monitoring.dashboardsMode, p.monitoring.alertmanagerMode) == ("configmap", "kubernetes")
    assert p.price.gpuHour["t4"] == Decimal("0.35") and p.price.hoursPerMonth == Decimal("730")
    assert p.providers.kubernetes is None


def test_models_are_frozen_and_round_trip(examples):
    t = examples.tenant("ai-call-center-prod").tenant
    with pytest.raises(ValidationError, match="frozen"):
        t.spec.preset = "small"  # type: ignore[misc]
    dumped = t.model_dump(mode="json", by_alias=True)
    assert dumped["spec"]["sla"] == {"availability": "99.95", "responseTime": "150ms",
                                     "concurrentUsers": 500}
    assert dumped["spec"]["monitoring"]["alerts"][0]["for"] == "5m"
    assert Tenant.model_validate(dumped) == t
    p = examples.project
    assert Project.model_validate(p.model_dump(mode="json", by_alias=True)) == p


def test_alert_rule_by_name_or_alias():
    assert AlertRule(name="a", condition="up == 0", for_="90s").for_ == "1m30s"
    assert AlertRule.model_validate({"name": "a", "condition": "x", "for": "1h"}).for_ == "1h"
    assert AlertRule(name="a", condition="x").for_ == "0s"


@pytest.mark.parametrize("text,ms,canonical", [
    ("150ms", 150, "150ms"), ("30s", 30_000, "30s"), ("5m", 300_000, "5m"), ("1h", 3_600_000, "1h"),
    ("2h30m", 9_000_000, "2h30m"), ("1d", 86_400_000, "1d"), ("90s", 90_000, "1m30s"),
    ("0s", 0, "0s"), ("1w", 604_800_000, "1w"), ("8d", 691_200_000, "8d"), ("14d", 1_209_600_000, "2w"),
])
def test_durations(text, ms, canonical):
    assert parse_duration(text) == ms
    assert format_duration(ms) == canonical
    assert normalize_duration(text) == canonical


@pytest.mark.parametrize("bad", ["5 minutes", "", "5", "m5", "5M", "1m1h", "1.5h", 300, None])
def test_malformed_durations(bad):
    with pytest.raises(DurationError, match=r"malformed duration .* \(use e.g. 30s, 5m, 1h\)"):
        parse_duration(bad)


def test_paths_format_and_parse():
    path = ("spec", "monitoring", "alerts", 0, "notify", 1)
    assert format_path(path) == "spec.monitoring.alerts[0].notify[1]"
    assert parse_path(format_path(path)) == path
