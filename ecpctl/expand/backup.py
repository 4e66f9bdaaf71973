"""A tenant's database backup: a CronJob that runs pg_dump with the tenant's own credentials (its
ConfigMap and Secret), writes a compressed custom-format dump to a PersistentVolumeClaim or an
S3-compatible bucket, and deletes dumps older than the retention.

`resolve()` merges the tenant's `spec.database.backup` onto the Project's `spec.backup` defaults;
`expand_backup()` adds the objects. The dump format is the one `ecpctl db restore` reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ecpctl.expand.context import Builder, ExpandContext
from ecpctl.expand.kubernetes import add_object, labels, meta
from ecpctl.kernel import ConfigError

CRONJOB_NAME = "ecp-ai-db-backup"
PVC_NAME = "ecp-ai-backups"
PVC_MOUNT = "/backup"
WORK_MOUNT = "/work"
# what one backup pod asks for; the tenant's quota grows by this so a full tenant still backs up
REQUESTS = {"cpu": "100m", "memory": "256Mi"}
LIMITS = {"cpu": "500m", "memory": "512Mi"}
POSTGRES_UID = 70                 # the postgres user of the official alpine images

# Runs in the postgres image (busybox sh): dump under a temporary name, then rename, so that a
# dump cut short never looks like a good one; prune by age only after a dump succeeded.
DUMP_TO_DIR = """\
set -eu
umask 077
stamp=$(date -u +%Y%m%dT%H%M%SZ)
file="$DUMP_DIR/$TENANT-$stamp.dump"
pg_dump --format=custom --compress=6 --no-password --file="$file.partial"
mv "$file.partial" "$file"
echo "wrote $file ($(wc -c < "$file") bytes)"
"""
PRUNE_DIR = """\
find "$DUMP_DIR" -maxdepth 1 -name "$TENANT-*.dump" -mmin "+$((RETAIN_DAYS * 1440))" \
  -print -exec rm -f {} \\;
find "$DUMP_DIR" -maxdepth 1 -name "$TENANT-*.dump.partial" -mmin +1440 -exec rm -f {} \\;
"""
# Runs in the aws-cli image (bash): upload the dump the init container made, then delete the
# tenant's objects whose timestamp (in the key) is older than the retention.
UPLOAD_TO_S3 = """\
set -euo pipefail
aws_() { if [ -n "${S3_ENDPOINT:-}" ]; then aws --endpoint-url "$S3_ENDPOINT" "$@"; else aws "$@"; fi; }
file=$(ls "$DUMP_DIR"/"$TENANT"-*.dump)
dest="s3://$S3_BUCKET/$S3_PREFIX/$TENANT"
aws_ s3 cp --only-show-errors "$file" "$dest/$(basename "$file")"
echo "uploaded $(basename "$file") to $dest/"
cutoff=$(date -u -d "@$(( $(date +%s) - RETAIN_DAYS * 86400 ))" +%Y%m%dT%H%M%SZ)
aws_ s3 ls "$dest/" | awk '{print $4}' | while read -r name; do
  case "$name" in "$TENANT"-*.dump) ;; *) continue ;; esac
  stamp=${name#"$TENANT"-}; stamp=${stamp%.dump}
  if [[ "$stamp" < "$cutoff" ]]; then aws_ s3 rm --only-show-errors "$dest/$name"; echo "deleted $name"; fi
done
"""


@dataclass(frozen=True)
class Backup:
    """The effective backup settings of one tenant."""

    schedule: str
    retain_days: int
    target: Any                    # config.models.BackupTarget
    image: str
    uploader_image: str
    credentials: Any               # config.models.S3Credentials | None

    @property
    def claim_name(self) -> str | None:
        if self.target.kind != "pvc":
            return None
        return self.target.pvc.claimName or PVC_NAME

    @property
    def creates_claim(self) -> bool:
        return self.target.kind == "pvc" and self.target.pvc.claimName is None

    def quota_extra(self) -> dict[str, int]:
        """Millicores, MiB and pods that the backup pod adds to the tenant's quota."""
        # with an s3 target the dump runs as an init container: a pod counts the larger of its
        # init containers and the sum of its containers, one container's worth either way
        return {"requests.cpu": 100, "requests.memory": 256, "limits.cpu": 500,
                "limits.memory": 512, "pods": 1}

    def egress_ports(self) -> tuple[int, ...]:
        """Ports the backup pod needs besides Postgres and HTTPS (an S3 endpoint's own port)."""
        if self.target.kind != "s3" or not self.target.s3.endpoint:
            return ()
        parts = urlsplit(self.target.s3.endpoint)
        return (parts.port or (443 if parts.scheme == "https" else 80),)


def resolve(lt, ctx: ExpandContext) -> Backup | None:
    """The tenant's backup (its own fields over the Project's defaults), or None when off."""
    spec = lt.tenant.spec
    if not spec.database.enabled:
        return None
    own = spec.database.backup
    defaults = ctx.project.spec.backup
    if own is not None and own.enabled is not None:
        enabled = own.enabled
    else:
        enabled = own is not None or defaults.enabled
    if not enabled:
        return None
    target = (own.target if own is not None and own.target is not None else defaults.target)
    if target.kind == "s3" and defaults.s3Credentials is None:
        raise ConfigError("backup target needs credentials", diagnostics=(lt.diagnostic(
            "an s3 backup target needs the Project's spec.backup.s3Credentials (the Secret that "
            "holds the bucket's key; never in a tenant file)",
            "spec", "database", "backup", "target", "s3"),))
    return Backup(
        schedule=(own.schedule if own is not None and own.schedule else defaults.schedule),
        retain_days=(own.retainDays if own is not None and own.retainDays else defaults.retainDays),
        target=target, image=defaults.image, uploader_image=defaults.uploaderImage,
        credentials=defaults.s3Credentials)


def _dump_container(tid: str, backup: Backup, out_dir: str, script: str) -> dict[str, Any]:
    return {
        "name": "pg-dump",
        "image": backup.image,
        "command": ["/bin/sh", "-c", script],
        "env": [{"name": "TENANT", "value": tid},
                {"name": "DUMP_DIR", "value": out_dir},
                {"name": "RETAIN_DAYS", "value": str(backup.retain_days)}],
        # PGHOST, PGPORT, PGDATABASE, PGUSER from the ConfigMap, PGPASSWORD from the Secret:
        # the tenant's own login, never the admin's
        "envFrom": [{"configMapRef": {"name": "ecp-ai-config"}},
                    {"secretRef": {"name": "ecp-ai-db"}}],
        "resources": {"requests": dict(REQUESTS), "limits": dict(LIMITS)},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "dumps", "mountPath": out_dir}, {"name": "tmp", "mountPath": "/tmp"}],
    }


def _s3_container(tid: str, backup: Backup) -> dict[str, Any]:
    s3, cred = backup.target.s3, backup.credentials
    env = [{"name": "TENANT", "value": tid},
           {"name": "DUMP_DIR", "value": WORK_MOUNT},
           {"name": "RETAIN_DAYS", "value": str(backup.retain_days)},
           {"name": "S3_BUCKET", "value": s3.bucket},
           {"name": "S3_PREFIX", "value": s3.prefix},
           {"name": "AWS_DEFAULT_REGION", "value": s3.region},
           {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {
               "name": cred.secretName, "key": cred.accessKeyIdKey}}},
           {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {
               "name": cred.secretName, "key": cred.secretAccessKeyKey}}}]
    if s3.endpoint:
        env.insert(5, {"name": "S3_ENDPOINT", "value": s3.endpoint})
    return {
        "name": "upload",
        "image": backup.uploader_image,
        "command": ["/bin/bash", "-c", UPLOAD_TO_S3],
        "env": env,
        "resources": {"requests": dict(REQUESTS), "limits": dict(LIMITS)},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "dumps", "mountPath": WORK_MOUNT}],
    }


def pod_spec(tid: str, backup: Backup) -> dict[str, Any]:
    if backup.target.kind == "pvc":
        containers = [_dump_container(tid, backup, PVC_MOUNT, DUMP_TO_DIR + PRUNE_DIR)]
        init: list[dict[str, Any]] = []
        dumps = {"name": "dumps", "persistentVolumeClaim": {"claimName": backup.claim_name}}
    else:
        init = [_dump_container(tid, backup, WORK_MOUNT, DUMP_TO_DIR)]
        containers = [_s3_container(tid, backup)]
        dumps = {"name": "dumps", "emptyDir": {}}
    spec: dict[str, Any] = {
        "serviceAccountName": "ecp-ai",
        "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "runAsUser": POSTGRES_UID,
                            "runAsGroup": POSTGRES_UID, "fsGroup": POSTGRES_UID},
        "containers": containers,
        "volumes": [dumps, {"name": "tmp", "emptyDir": {}}],
    }
    if init:
        spec["initContainers"] = init
    return spec


def expand_backup(b: Builder, ctx: ExpandContext, lt, backup: Backup, k8s: dict[str, str]) -> None:
    tid = lt.tenant.metadata.name
    ns = k8s["ns_name"]
    in_ns = (k8s["namespace"],)
    base = labels(tid)
    deps = [k8s["namespace"], k8s["config"], k8s["secret"], k8s["serviceaccount"], k8s["quota"]]
    if backup.creates_claim:
        pvc = backup.target.pvc
        claim: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                                 "resources": {"requests": {"storage": pvc.size}}}
        if pvc.storageClassName:
            claim["storageClassName"] = pvc.storageClassName
        deps.append(add_object(b, {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": meta(PVC_NAME, ns, base), "spec": claim}, depends_on=in_ns))
    pod_labels = labels(tid, **{"app.kubernetes.io/name": "db-backup",
                                "app.kubernetes.io/component": "backup"})
    pod_meta = {"labels": pod_labels}       # the job's and its pods': one object
    add_object(b, {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": meta(CRONJOB_NAME, ns, base),
        "spec": {
            "schedule": backup.schedule,
            "concurrencyPolicy": "Forbid",
            # a run missed by more than an hour (controller down) is skipped, not stacked
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": pod_meta,
                "spec": {"backoffLimit": 2, "activeDeadlineSeconds": 6 * 3600,
                         "template": {"metadata": pod_meta,
                                      "spec": pod_spec(tid, backup)}}},
        }}, depends_on=deps)
