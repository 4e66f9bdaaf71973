"""Capacity and missing CRDs on private control planes: one node with 2 GPUs, and one without the
prometheus-operator CRDs."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterator

import pytest

from tests.integration.kubernetes_support import KubeCli, addr, unique
from tests.testenv.kube import ControlPlane
from tests.testenv.pytest_kube import private_control_plane

pytestmark = [pytest.mark.integration, pytest.mark.kube]


@pytest.fixture(scope="module")
def one_node() -> Iterator[ControlPlane]:
    """A control plane whose only node has 16 CPUs, 64Gi and 2 GPUs (with the CRDs)."""
    with private_control_plane(nodes=1, install_crds=True) as cp:
        yield cp


def test_gpu_overcommit_warns_in_plan_and_apply_times_out_naming_the_scheduler(one_node, tmp_path: Path):
    k = KubeCli(tmp_path, one_node)
    t = unique("gpu")
    k.tenant(t, {"callbot": 150, "chatbot": 50})          # 3 callbot replicas x 1 GPU; 2 GPUs exist
    r = k.ok("plan", str(k.spec))
    assert (f"Warning: tenant {t}: requests 3 nvidia.com/gpu but the cluster's nodes can "
            "allocate 2 in total") in r.output

    r = k("plan", str(k.spec), "--strict")
    assert r.exit_code == 1
    assert f"Error: tenant {t}: requests 3 nvidia.com/gpu" in r.output

    r = k("apply", str(k.spec), "--auto-approve", "--wait-timeout", "20")
    assert r.exit_code == 1, r.output
    line = next(ln for ln in r.output.splitlines() if "timed out after 20s" in ln)
    assert "waiting for Deployment callbot: 2/3 replicas available" in line
    assert "Pending: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu." in line
    assert "pod callbot-" in line
    # the rest of the tenant was applied and recorded; the chatbot is running
    assert f"{addr(t, 'apps/v1.Deployment', 'chatbot')}: Creation complete" in r.output
    assert "Traceback" not in r.output

    status = k("status", t, "--path", str(k.spec)).output
    assert "Insufficient nvidia.com/gpu" in status
    k.cleanup()


def test_missing_crds_are_named_in_one_line_each(isolated_control_plane, tmp_path: Path):
    k = KubeCli(tmp_path, isolated_control_plane)
    t = unique("nocrd")
    k.tenant(t, {"chatbot": 50})
    r = k("plan", str(k.spec))
    assert r.exit_code == 1
    errors = [ln for ln in r.output.splitlines() if ln.startswith("Error: tenant.")]
    assert f"Error: {addr(t, 'monitoring.coreos.com/v1.PrometheusRule', 'ecp-ai-slo')}: the cluster has " \
           "no CRD prometheusrules.monitoring.coreos.com (install the prometheus-operator CRDs)" in errors
    assert any("no CRD servicemonitors.monitoring.coreos.com" in ln for ln in errors)
    assert any("no CRD alertmanagerconfigs.monitoring.coreos.com" in ln for ln in errors)
    assert len(errors) == 3
    assert "Traceback" not in r.output
