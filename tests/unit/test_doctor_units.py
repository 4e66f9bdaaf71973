"""Offline parts of `ecpctl doctor`: version parsing, label selectors as the prometheus-operator
reads them, and what runs when nothing is configured."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ecpctl.doctor.checks import version_tuple
from ecpctl.doctor.kube import selects


def test_versions():
    assert version_tuple("v1.34.4") == (1, 34, 4)
    assert version_tuple("v1.24.0-gke.100") == (1, 24, 0)
    assert version_tuple("15.18 (Debian 15.18-0+deb12u1)") == (15, 18)
    assert version_tuple("0.25.0") == (0, 25, 0)
    assert version_tuple("unknown") == ()


def test_selectors_as_the_prometheus_operator_reads_them():
    labels = {"release": "kube-prometheus-stack", "app.kubernetes.io/part-of": "ecp-ai"}
    assert selects({}, labels)                       # {} selects everything
    assert not selects(None, labels)                 # unset selects nothing
    assert selects({"matchLabels": {"release": "kube-prometheus-stack"}}, labels)
    assert not selects({"matchLabels": {"release": "prometheus"}}, labels)
    assert selects({"matchExpressions": [{"key": "release", "operator": "In",
                                          "values": ["a", "kube-prometheus-stack"]}]}, labels)
    assert not selects({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, labels)
    assert selects({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, labels)


def test_nothing_configured_is_skipped_and_passes(tmp_path: Path):
    from ecpctl.cli.main import cli
    (tmp_path / "project.yaml").write_text(
        "apiVersion: ecp.ai/v1\nkind: Project\nmetadata:\n  name: x\n")
    r = CliRunner().invoke(cli, ["doctor", str(tmp_path)], env={"NO_COLOR": "1"})
    assert r.exit_code == 0, r.output
    assert "- Kubernetes: not configured (spec.providers.kubernetes)" in r.output
    assert "- Postgres: not configured (spec.providers.postgres)" in r.output
    assert "0 passed, 0 failed, 0 warnings, 4 skipped." in r.output
