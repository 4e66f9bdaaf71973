"""Expansion of day-2 settings: the per-tenant backup CronJob (and its claim), the Project's
LimitRange, quota object counts and egress allow-list, and ingress annotations."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecpctl.engine import desired_state
from ecpctl.kernel import ConfigError

PROJECT = """\
apiVersion: ecp.ai/v1
kind: Project
metadata:
  name: day2
spec:
  providers:
    kubernetes: {{}}
{extra}"""

TENANT = """\
apiVersion: ecp.ai/v1
kind: Tenant
metadata:
  name: {name}
spec:
  services:
    chatbot: 20
  sla:
    availability: "99%"
  database:
    enabled: {db}
{backup}{ingress}"""


def write(tmp_path: Path, project: str = "", tenants: dict[str, tuple[bool, str, str]] | None = None,
          ) -> Path:
    path = tmp_path / "spec"
    path.mkdir(parents=True)
    (path / "project.yaml").write_text(PROJECT.format(extra=project))
    for name, (db, backup, ingress) in (tenants or {"acme": (True, "", "")}).items():
        (path / f"{name}.yaml").write_text(TENANT.format(name=name, db=str(db).lower(),
                                                         backup=backup, ingress=ingress))
    return path


def objects(path: Path, tenant: str = "acme") -> dict[str, dict]:
    return {r.type.rpartition(".")[2] + "/" + r.name: r
            for r in desired_state(path).resources if r.tenant == tenant}


def errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        desired_state(path)
    return [d.one_line() for d in info.value.diagnostics]


def test_no_backup_unless_asked(tmp_path):
    objs = objects(write(tmp_path))
    assert not any(k.startswith(("CronJob/", "PersistentVolumeClaim/")) for k in objs)


def test_a_tenant_backup_block_takes_the_project_defaults(tmp_path):
    backup = "    backup: {}\n"
    objs = objects(write(tmp_path, tenants={"acme": (True, backup, "")}))
    cron = objs["CronJob/ecp-ai-db-backup"]
    spec = cron.attributes["spec"]
    assert spec["schedule"] == "0 2 * * *" and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "postgres:15-alpine"
    assert {"configMapRef": {"name": "ecp-ai-config"}} in c["envFrom"]
    assert {"secretRef": {"name": "ecp-ai-db"}} in c["envFrom"]       # the tenant's own login
    assert {"name": "RETAIN_DAYS", "value": "7"} in c["env"]
    assert "pg_dump --format=custom" in c["command"][-1] and "-mmin" in c["command"][-1]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "ecp-ai-backups"
    pvc = objs["PersistentVolumeClaim/ecp-ai-backups"]
    assert pvc.attributes["spec"]["resources"]["requests"]["storage"] == "10Gi"
    # ordered after what the pod reads, and the claim
    assert objs["Secret/ecp-ai-db"].address in cron.depends_on
    assert pvc.address in cron.depends_on
    # the quota leaves room for the backup pod on top of the services
    plain = objects(write(tmp_path / "plain"))["ResourceQuota/ecp-ai-quota"].attributes["spec"]["hard"]
    hard = objs["ResourceQuota/ecp-ai-quota"].attributes["spec"]["hard"]
    assert int(hard["pods"]) == int(plain["pods"]) + 1


def test_project_enables_backups_and_a_tenant_opts_out(tmp_path):
    project = "  backup:\n    enabled: true\n    schedule: '30 3 * * *'\n    retainDays: 14\n"
    path = write(tmp_path, project, {
        "acme": (True, "", ""),
        "quiet": (True, "    backup: {enabled: false}\n", ""),
        "nodb": (False, "", ""),
        "own": (True, "    backup: {schedule: '@hourly', retainDays: 2, "
                      "target: {pvc: {claimName: shared-dumps}}}\n", "")})
    cron = objects(path)["CronJob/ecp-ai-db-backup"].attributes["spec"]
    assert cron["schedule"] == "30 3 * * *"
    assert {"name": "RETAIN_DAYS", "value": "14"} in \
        cron["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "CronJob/ecp-ai-db-backup" not in objects(path, "quiet")
    assert "CronJob/ecp-ai-db-backup" not in objects(path, "nodb")
    own = objects(path, "own")
    assert own["CronJob/ecp-ai-db-backup"].attributes["spec"]["schedule"] == "@hourly"
    pod = own["CronJob/ecp-ai-db-backup"].attributes["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "shared-dumps"
    assert "PersistentVolumeClaim/ecp-ai-backups" not in own      # an existing claim is not made


def test_s3_target_takes_credentials_from_the_project_secret(tmp_path):
    project = ("  backup:\n    enabled: true\n    target:\n      s3: {bucket: ecp-backups, "
               "endpoint: 'http://minio.storage.svc:9000'}\n"
               "    s3Credentials: {secretName: aws-credentials}\n"
               "  policy:\n    egress: {enabled: true}\n")
    objs = objects(write(tmp_path, project))
    pod = objs["CronJob/ecp-ai-db-backup"].attributes["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["pg-dump"]
    (up,) = pod["containers"]
    env = {e["name"]: e for e in up["env"]}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"] == {"secretKeyRef": {
        "name": "aws-credentials", "key": "access-key-id"}}
    assert env["S3_ENDPOINT"]["value"] == "http://minio.storage.svc:9000"
    assert env["S3_BUCKET"]["value"] == "ecp-backups" and "aws_ s3 cp" in up["command"][-1]
    assert "PersistentVolumeClaim/ecp-ai-backups" not in objs
    # the egress allow-list lets the upload reach the endpoint's own port
    egress = objs["NetworkPolicy/ecp-ai-default"].attributes["spec"]["egress"]
    assert {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 9000}]} in egress


def test_s3_without_credentials_is_an_error_at_the_tenant_field(tmp_path):
    backup = "    backup:\n      target:\n        s3: {bucket: ecp-backups}\n"
    (msg,) = errors(write(tmp_path, tenants={"acme": (True, backup, "")}))
    assert "acme.yaml:" in msg and "spec.database.backup.target.s3" in msg
    assert "s3Credentials" in msg


def test_a_bad_schedule_names_the_field(tmp_path):
    from ecpctl.config import load_config
    backup = "    backup: {schedule: 'every night'}\n"
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, tenants={"acme": (True, backup, "")}))
    (d,) = info.value.diagnostics
    assert d.field == "spec.database.backup.schedule" and "cron schedule" in d.one_line()


DOCUMENTS_POLICY = """\
  policy:
    limitRange:
      default: {cpu: 1000m, memory: 2Gi}
      defaultRequest: {cpu: 100m, memory: 256Mi}
      min: {cpu: 50m, memory: 128Mi}
      max: {cpu: 4000m, memory: 8Gi}
    quotaObjects: {services: 100, persistentvolumeclaims: 50}
"""


def test_the_documents_limit_range_and_object_counts(tmp_path):
    objs = objects(write(tmp_path, DOCUMENTS_POLICY))
    (item,) = objs["LimitRange/ecp-ai-limits"].attributes["spec"]["limits"]
    assert item == {"type": "Container", "default": {"cpu": "1", "memory": "2Gi"},
                    "defaultRequest": {"cpu": "100m", "memory": "256Mi"},
                    "min": {"cpu": "50m", "memory": "128Mi"}, "max": {"cpu": "4", "memory": "8Gi"}}
    hard = objs["ResourceQuota/ecp-ai-quota"].attributes["spec"]["hard"]
    assert hard["services"] == "100" and hard["persistentvolumeclaims"] == "50"


def test_policy_that_would_reject_the_tenant_fails_at_plan_time(tmp_path):
    project = ("  policy:\n    limitRange:\n      default: {cpu: 100m}\n"
               "      defaultRequest: {cpu: 50m}\n      max: {cpu: 100m}\n"
               "    quotaObjects: {services: 0}\n")
    msgs = errors(write(tmp_path, project))
    assert any("chatbot: limits.cpu" in m and "policy.limitRange.max.cpu 100m" in m for m in msgs)
    assert any("needs 1 services" in m and "allows 0" in m for m in msgs)


def test_limit_range_bounds_must_be_ordered(tmp_path):
    from ecpctl.config import load_config
    project = "  policy:\n    limitRange:\n      min: {memory: 1Gi}\n"
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, project))
    assert "min.memory 1Gi is more than defaultRequest.memory 128Mi" in info.value.diagnostics[0].one_line()


def test_ingress_annotations_and_cert_manager_tls(tmp_path):
    ingress = ("  ingress:\n    host: acme.example.com\n    clusterIssuer: letsencrypt-prod\n"
               "    maxBodySize: 50m\n    annotations: {nginx.ingress.kubernetes.io/ssl-redirect: 'true'}\n")
    ing = objects(write(tmp_path, tenants={"acme": (False, "", ingress)}))["Ingress/ecp-ai"].attributes
    assert ing["metadata"]["annotations"] == {
        "cert-manager.io/cluster-issuer": "letsencrypt-prod",
        "nginx.ingress.kubernetes.io/proxy-body-size": "50m",
        "nginx.ingress.kubernetes.io/ssl-redirect": "true"}
    assert ing["spec"]["tls"] == [{"hosts": ["acme.example.com"], "secretName": "ecp-ai-tls"}]


def test_egress_allow_list(tmp_path, monkeypatch):
    monkeypatch.setenv("ECPCTL_POSTGRES_DSN", "postgresql://admin@10.1.2.3:5433/postgres")
    project = "  policy:\n    egress: {enabled: true, cidrs: [192.168.0.0/16]}\n"
    np = objects(write(tmp_path, project))["NetworkPolicy/ecp-ai-default"].attributes["spec"]
    assert np["policyTypes"] == ["Ingress", "Egress"]
    assert np["egress"] == [
        {"to": [{"podSelector": {}}]},
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
         "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {"to": [{"ipBlock": {"cidr": "10.1.2.3/32"}}], "ports": [{"protocol": "TCP", "port": 5433}]},
        {"ports": [{"protocol": "TCP", "port": 443}]},
        {"to": [{"ipBlock": {"cidr": "192.168.0.0/16"}}]},
    ]
    # off by default: ingress rules only, as before
    plain = objects(write(tmp_path / "plain"))["NetworkPolicy/ecp-ai-default"].attributes["spec"]
    assert plain["policyTypes"] == ["Ingress"] and "egress" not in plain
