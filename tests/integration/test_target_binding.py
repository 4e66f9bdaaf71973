"""Plans bound to their targets, on real control planes and Postgres: the plan names each
provider's resolved target (human header and JSON), and a saved plan made against one control
plane is refused when the kubeconfig points at another, naming both clusters."""

from __future__ import annotations

import json

import pytest

from tests.integration.kubernetes_support import kube_cli, unique  # noqa: F401
from tests.integration.postgres_support import DSN_ENV
from tests.testenv.pytest_kube import private_control_plane

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]


def test_plan_names_each_target_and_a_saved_plan_applies_only_to_its_cluster(
        kube_cli, postgres_server):
    t = unique("bind")
    spec = kube_cli.tenant(t, {"chatbot": 10})
    spec.write_text(spec.read_text().replace("database:\n    enabled: false",
                                             "database:\n    enabled: true"))
    (kube_cli.spec / "project.yaml").write_text(
        (kube_cli.spec / "project.yaml").read_text().replace(
            "    kubernetes: {}\n", f"    kubernetes: {{}}\n    postgres: {{dsnEnv: {DSN_ENV}}}\n"))
    env = {DSN_ENV: postgres_server.admin_dsn}
    uid = kube_cli.cp.kubectl_json("get", "namespace", "kube-system")["metadata"]["uid"]

    doc = json.loads(kube_cli.ok("plan", str(kube_cli.spec), "--json", env=env).stdout)
    k8s = doc["provider_targets"]["kubernetes"]
    assert k8s["cluster_uid"] == uid and k8s["server"].startswith("https://127.0.0.1:")
    assert k8s["context"]
    pg = doc["provider_targets"]["postgres"]
    assert pg["port"] == postgres_server.port and pg["database"] == "postgres"
    assert pg["system_identifier"].isdigit()

    human = kube_cli.ok("plan", str(kube_cli.spec), env=env).output
    assert "Targets:" in human
    assert f"cluster kube-system uid {uid}" in human
    assert f"(system identifier {pg['system_identifier']})" in human

    saved = kube_cli.root / "tfplan"
    kube_cli.ok("plan", str(kube_cli.spec), "-o", str(saved), env=env)
    with private_control_plane(nodes=1) as other:
        other_uid = other.kubectl_json("get", "namespace", "kube-system")["metadata"]["uid"]
        r = kube_cli("apply", str(saved), env={**env, "KUBECONFIG": str(other.kubeconfig)})
        assert r.exit_code == 1, r.output
        assert "saved plan refused" in r.output
        assert f"cluster kube-system uid {uid}" in r.output
        assert f"cluster kube-system uid {other_uid}" in r.output
        assert not other.kubectl("get", "namespace", f"ecp-ai-{t}", "--ignore-not-found",
                                 "-o", "name", check=False).stdout.strip()
    # against the cluster it was made for, it applies
    kube_cli.ok("apply", str(saved), "--no-wait", env=env)
    assert kube_cli.exists("namespace", f"ecp-ai-{t}")
    kube_cli.ok("destroy", str(kube_cli.spec), "--auto-approve", env=env)


def _with_postgres(kube_cli, t: str) -> None:
    spec = kube_cli.tenant(t, {"chatbot": 10})
    spec.write_text(spec.read_text().replace("database:\n    enabled: false",
                                             "database:\n    enabled: true"))
    project = kube_cli.spec / "project.yaml"
    if "postgres:" not in project.read_text():
        project.write_text(project.read_text().replace(
            "    kubernetes: {}\n", f"    kubernetes: {{}}\n    postgres: {{dsnEnv: {DSN_ENV}}}\n"))


def _system_id(server) -> str:
    with server.connect() as conn:
        return str(conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0])


def _has_database(server, name: str) -> bool:
    with server.connect() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() \
            is not None


def test_a_saved_plan_applies_only_to_the_postgres_it_was_made_for(kube_cli, postgres_server):
    """The DSN comes from the environment at apply time: another server there is refused,
    naming both system identifiers, before anything is made on either."""
    from ecpctl.sandbox.postgres import PostgresServer

    t = unique("bindpg")
    _with_postgres(kube_cli, t)
    env = {DSN_ENV: postgres_server.admin_dsn}
    saved = kube_cli.root / "pgplan"
    only_db = ("--target", f"tenant.{t}.postgres.*")
    kube_cli.ok("plan", str(kube_cli.spec), "-o", str(saved), *only_db, env=env)
    with PostgresServer(bindir=postgres_server.bindir) as other:
        made_for, current = _system_id(postgres_server), _system_id(other)
        assert made_for != current
        r = kube_cli("apply", str(saved), env={DSN_ENV: other.admin_dsn})
        assert r.exit_code == 1, r.output
        assert "saved plan refused" in r.output
        assert f"postgres: the plan was made against 127.0.0.1:{postgres_server.port}/postgres " \
            f"(system identifier {made_for})" in r.output
        assert f"current target is 127.0.0.1:{other.port}/postgres (system identifier " \
            f"{current})" in r.output
        assert not _has_database(other, t)
    assert not _has_database(postgres_server, t)
    # against the server it was made for, it applies
    kube_cli.ok("apply", str(saved), env=env)
    assert _has_database(postgres_server, t)
    kube_cli.ok("destroy", str(kube_cli.spec), "--auto-approve", *only_db, env=env)
    assert not _has_database(postgres_server, t)


def test_a_saved_plan_writes_to_the_grafana_and_alertmanager_it_names(
        tmp_path, fake_grafana, alertmanager, amtool, webhook_sink):
    """Their URLs are settings the saved plan carries: when the Project names other servers
    since, apply PLANFILE still writes where the plan was made (and shown: its Targets); a plan
    file whose URLs were edited is refused, naming both."""
    from ecpctl.sandbox.alertmanager import ALERTMANAGER, AlertmanagerServer, find_tool
    from tests.fakes.grafana import FakeGrafana
    from tests.integration.monitoring_support import write_specs
    from tests.integration.test_grafana_alertmanager_cli import TARGETS, TOKEN_ENV, Cli

    specs = tmp_path / "specs"

    def project(grafana_url: str, am) -> None:
        write_specs(specs, tenants=("acme",), sink=webhook_sink.base,
                    config_file=am.config_file, am_url=am.url, amtool=amtool,
                    grafana_url=grafana_url)

    project(fake_grafana.url, alertmanager)
    cli = Cli(tmp_path / ".ecpctl", {TOKEN_ENV: fake_grafana.token})
    saved = tmp_path / "tfplan"
    r = cli("plan", str(specs), "-o", str(saved), *TARGETS)
    assert r.exit_code == 0, r.output
    assert fake_grafana.url in r.output and alertmanager.url in r.output     # the Targets header
    with FakeGrafana() as other_grafana, \
            AlertmanagerServer(binary=find_tool(ALERTMANAGER, "prometheus-alertmanager")) as other_am:
        project(other_grafana.url, other_am)
        before = other_am.config_file.read_text()

        doctored = tmp_path / "doctored"
        doc = json.loads(saved.read_text())
        doc["provider_settings"]["grafana"]["url"] = other_grafana.url
        doc["provider_settings"]["alertmanager"]["url"] = other_am.url
        doctored.write_text(json.dumps(doc, separators=(",", ":")))
        r = cli("apply", str(doctored))
        assert r.exit_code == 1, r.output
        assert "saved plan refused" in r.output
        for name, was, now in (("grafana", fake_grafana.url, other_grafana.url),
                               ("alertmanager", alertmanager.url, other_am.url)):
            assert f"{name}: the plan was made against {was.rstrip('/')}" in r.output, r.output
            assert f"current target is {now.rstrip('/')}" in r.output, r.output
        assert not fake_grafana.dashboards and not other_grafana.dashboards

        r = cli("apply", str(saved))
        assert r.exit_code == 0, r.output
        assert {"ecp-acme-overview", "ecp-acme-slo"} <= set(fake_grafana.dashboards)
        assert not other_grafana.dashboards and not other_grafana.folders
        assert "acme/ops" in alertmanager.config_file.read_text()
        assert other_am.config_file.read_text() == before
