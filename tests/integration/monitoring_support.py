"""Spec files for the monitoring integration tests: tenants with webhook receivers on the test's
sink, and a Project that configures only the monitoring providers."""

from __future__ import annotations

from pathlib import Path

from ecpctl.engine import desired_state

PROJECT = """\
apiVersion: ecp.ai/v1
kind: Project
metadata: {{name: monitoring-tests}}
spec:
  providers:
    alertmanager:
      configFile: {config_file}
      url: {am_url}
      amtool: {amtool}
    grafana:
      url: {grafana_url}
      tokenEnv: ECPCTL_TEST_GRAFANA_TOKEN
      folderPrefix: ECP-AI
  monitoring:
    dashboardsMode: {dashboards}
    alertmanagerMode: file
"""

TENANT = """\
apiVersion: ecp.ai/v1
kind: Tenant
metadata:
  name: {name}
  displayName: {name} call center
spec:
  services: {{chatbot: 10}}
  sla: {{availability: "99.5%", responseTime: 150ms}}
  database: {{enabled: false}}
  monitoring:
    receivers:
      - name: ops
        webhook: {{url: "{sink}/{name}/ops"}}
      - name: oncall
        webhook: {{url: "{sink}/{name}/oncall"}}
    alerts:
      - name: high_cpu_usage
        condition: cpu_usage > 80
        for: 5m
        notify: [ops, oncall]
"""


def write_specs(root: Path, *, tenants=("acme", "globex"), sink: str, config_file, am_url: str,
                amtool: str, grafana_url: str = "http://127.0.0.1:9", dashboards: str = "http"
                ) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "project.yaml").write_text(PROJECT.format(
        config_file=config_file, am_url=am_url, amtool=amtool, grafana_url=grafana_url,
        dashboards=dashboards))
    for t in tenants:
        (root / f"{t}.yaml").write_text(TENANT.format(name=t, sink=sink))
    return root


def resources(path: Path, provider: str):
    return [r for r in desired_state(path).resources if r.provider == provider]
