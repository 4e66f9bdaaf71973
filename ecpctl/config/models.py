"""The spec file models (`apiVersion: ecp.ai/v1`, kinds `Tenant` and `Project`): pydantic v2, frozen.

Every model forbids unknown fields; field types carry their own short error messages (see types.py).
"""

from __future__ import annotations

import difflib
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ecpctl.kernel.quantity import parse_cpu, parse_memory
from ecpctl.config.limits import INT32_MAX, MAX_HOURS_PER_MONTH, MAX_SESSIONS
from ecpctl.config.types import (
    AlertName, DnsLabel, DnsName, DurationMs, Email, EnvVarName, ExtensionName, HttpUrl,
    ImageRegistry, ImageTag, LabelKey, LabelValue, NonEmptyStr, ObjectName, Percentage, PgToken,
    PromDuration, SecretFreeUrl, SlugName, SqlName, StrictBool, TenantLabelKey, TenantName, amount,
    fail, patterned, unique_items, whole_number,
)

API_VERSION = "ecp.ai/v1"
SERVICE_TYPES = ("callbot", "chatbot", "advisor", "stt", "tts", "nlp")
PRESETS = ("small", "medium", "large", "auto")
CROSS_REFERENCE_ERROR = "ecp_refs"


def did_you_mean(word: str, choices) -> str:
    """` (did you mean 'x'?)` for the closest choice, or an empty string."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def cross_reference_error(problems: list[tuple[tuple, str]]) -> PydanticCustomError:
    """One error carrying several (relative path, message) problems; the loader reports each."""
    first = problems[0][1]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return PydanticCustomError(CROSS_REFERENCE_ERROR, first + more, {"problems": problems})


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        """`monitoring:` with nothing after it (YAML null) means "use the default", as in Kubernetes."""
        if not isinstance(data, dict):
            return data
        optional = {f.alias or name for name, f in cls.model_fields.items() if not f.is_required()}
        optional |= {name for name, f in cls.model_fields.items() if not f.is_required()}
        return {k: v for k, v in data.items() if not (v is None and k in optional)}


def _service_type(value: Any) -> str:
    if not isinstance(value, str) or value not in SERVICE_TYPES:
        raise fail(f"unknown service type '{value}'{did_you_mean(value, SERVICE_TYPES)}")
    return value


ServiceType = Annotated[str, BeforeValidator(_service_type),
                        WithJsonSchema({"type": "string", "enum": list(SERVICE_TYPES)})]
Sessions = whole_number(ge=0, cap=MAX_SESSIONS, cap_reason=" (the largest 64-bit integer)")
UserCount = whole_number(ge=1, cap=INT32_MAX, cap_reason=" (a 32-bit integer in the registry)")
ConnectionLimit = whole_number(ge=-1, note=" (-1 means no limit)", cap=INT32_MAX,
                               cap_reason=" (Postgres' CONNECTION LIMIT is a 32-bit integer)")
GpuType = patterned(r"[a-z0-9][a-z0-9-]*", "must be a GPU type name like t4 or a100", max_length=63)

# ====================================================================== Tenant


class TenantMetadata(SpecModel):
    name: TenantName = Field(description="Tenant id: a DNS label (lowercase letters, digits, '-'), "
                                         "at most 56 characters. The namespace is 'ecp-ai-<name>'.")
    displayName: str | None = Field(None, description="Human-readable name, any Unicode.")
    labels: dict[TenantLabelKey, LabelValue] = Field(
        default_factory=dict, description="Extra labels for the tenant's namespace.")


class ImageSpec(SpecModel):
    registry: ImageRegistry = Field("ecp-ai", description="Registry and repository prefix of the "
                                                          "service images: <registry>/<service>:<tag>.")
    tag: ImageTag = Field("latest", description="Image tag of every service image.")
    pullPolicy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"


class Sla(SpecModel):
    availability: Percentage = Field(
        description="Availability target in percent, e.g. \"99.95%\". At 99.9% and above every "
                    "service runs at least 2 replicas.")
    responseTime: DurationMs = Field("200ms", validate_default=True,
                                     description="Response time target, e.g. 150ms "
                                                 "(held as milliseconds).")
    concurrentUsers: UserCount | None = Field(  # type: ignore[valid-type]
        None, description="Expected concurrent users (informational).")

    @property
    def availability_ratio(self) -> Decimal:
        """0.9995 for 99.95%."""
        return self.availability / Decimal(100)

    @property
    def response_time_seconds(self) -> Decimal:
        return Decimal(self.responseTime) / Decimal(1000)



# ---------------------------------------------------------------- day 2: backups, cluster policy

_CRON_FIELD = r"(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*"
_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def _cron(value: Any) -> str:
    if not isinstance(value, str):
        raise fail("must be a string")
    text = " ".join(value.split())
    if text in _CRON_MACROS:
        return text
    fields = text.split(" ")
    if len(fields) != 5 or not all(re.fullmatch(_CRON_FIELD, f) for f in fields):
        raise fail("must be a cron schedule of 5 fields, e.g. \"0 2 * * *\" (minute hour "
                   "day-of-month month day-of-week), or @daily")
    return text


CronSchedule = Annotated[str, BeforeValidator(_cron), WithJsonSchema({
    "type": "string", "description": "cron schedule (5 fields) or @daily, @hourly, ..."})]


def _quantity(parse, example: str):
    def check(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise fail(f"must be a quantity like {example}")
        try:
            parse(value)
        except ValueError:
            raise fail(f"must be a quantity like {example}") from None
        return str(value)
    return Annotated[str, BeforeValidator(check), WithJsonSchema(
        {"type": ["string", "integer"], "description": f"quantity, e.g. {example}"})]


CpuQuantity = _quantity(parse_cpu, "500m or 2")
MemoryQuantity = _quantity(parse_memory, "512Mi or 2Gi")
BucketName = patterned(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
                       "must be an S3 bucket name (3-63 lowercase letters, digits, '.', '-')")
ObjectPrefix = patterned(r"[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*",
                         "must be a key prefix like database or backups/ecp (no leading or "
                         "trailing '/')", max_length=512)
ImageRef = patterned(r"[A-Za-z0-9][A-Za-z0-9._:/@-]*", "must be an image reference like "
                     "postgres:15-alpine", max_length=255)
BodySize = patterned(r"[0-9]+[kKmMgG]?", "must be a size like 50m (nginx units: k, m, g)")
Cidr = patterned(r"[0-9a-fA-F:.]+/[0-9]{1,3}", "must be a CIDR like 10.0.0.0/8")


class PvcBackupTarget(SpecModel):
    claimName: ObjectName | None = Field(
        None, description="An existing PersistentVolumeClaim in the tenant's namespace; when unset "
                          "ecpctl creates one named ecp-ai-backups (deleted with the tenant).")
    size: MemoryQuantity = Field("10Gi", description="Size of the claim ecpctl creates.")
    storageClassName: ObjectName | None = Field(None, description="StorageClass of that claim.")


class S3BackupTarget(SpecModel):
    bucket: BucketName = Field(description="Bucket the dumps are uploaded to.")
    prefix: ObjectPrefix = Field("database", description="Key prefix; dumps land at "
                                                         "<prefix>/<tenant>/<tenant>-<time>.dump.")
    endpoint: HttpUrl | None = Field(None, description="Endpoint of an S3-compatible store "
                                                       "(MinIO, Ceph); default: AWS S3.")
    region: NonEmptyStr = "us-east-1"


class BackupTarget(SpecModel):
    pvc: PvcBackupTarget | None = None
    s3: S3BackupTarget | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> BackupTarget:
        found = [k for k in ("pvc", "s3") if getattr(self, k) is not None]
        if len(found) != 1:
            raise fail("needs exactly one of pvc or s3" + (" (found both)" if found else ""))
        return self

    @property
    def kind(self) -> str:
        return "s3" if self.s3 is not None else "pvc"


class DatabaseBackup(SpecModel):
    """A tenant's own backup settings; unset fields come from the Project's spec.backup."""

    enabled: StrictBool | None = Field(None, description="Default: on when this block is present "
                                                         "or the Project's backup.enabled is true.")
    schedule: CronSchedule | None = None
    retainDays: whole_number(ge=1, le=3650) | None = None  # type: ignore[valid-type]
    target: BackupTarget | None = None


class DatabaseSpec(SpecModel):
    enabled: StrictBool = Field(True, description="Create the tenant's Postgres role, database "
                                                   "and schema.")
    extensions: list[ExtensionName] = Field(default_factory=list,
                                            description="Extensions to create, e.g. pgcrypto.")
    connectionLimit: ConnectionLimit = Field(  # type: ignore[valid-type]
        50, description="CONNECTION LIMIT of the tenant's role; -1 means no limit.")
    encoding: PgToken = Field("UTF8", description="Database encoding.")
    locale: PgToken = Field("C.UTF-8", description="Database locale (LC_COLLATE and LC_CTYPE), "
                                                   "e.g. C.UTF-8 or C.")
    schemas: list[SqlName] = Field(default_factory=list,
                                   description="Extra schemas; the tenant's main schema is always "
                                               "created.")
    backup: DatabaseBackup | None = Field(
        None, description="Scheduled pg_dump of the tenant database (a CronJob); defaults from "
                          "the Project's spec.backup.")

    @field_validator("extensions")
    @classmethod
    def _unique_extensions(cls, v: list[str]) -> list[str]:
        return unique_items(v, "extension")

    @field_validator("schemas")
    @classmethod
    def _unique_schemas(cls, v: list[str]) -> list[str]:
        return unique_items(v, "schema")


class WebhookConfig(SpecModel):
    url: HttpUrl = Field(description="http(s) URL that receives Alertmanager's webhook payload.")
    sendResolved: StrictBool = True


class EmailConfig(SpecModel):
    to: list[Email] = Field(min_length=1, description="Recipient addresses (at least one).")

    @field_validator("to")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return unique_items(v, "address")


class SlackConfig(SpecModel):
    channel: NonEmptyStr = Field(description="Channel, e.g. #ops-alerts.")
    apiUrlEnv: EnvVarName = Field(description="Name of the environment variable that holds the "
                                              "Slack webhook URL (a secret; never in the file).")


RECEIVER_KINDS = ("webhook", "email", "slack")


class Receiver(SpecModel):
    name: SlugName = Field(description="Receiver name, unique within the tenant.")
    webhook: WebhookConfig | None = None
    email: EmailConfig | None = None
    slack: SlackConfig | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Receiver:
        found = [k for k in RECEIVER_KINDS if getattr(self, k) is not None]
        if len(found) != 1:
            detail = f" (found {', '.join(found)})" if found else ""
            raise fail("needs exactly one of webhook, email or slack" + detail)
        return self

    @property
    def kind(self) -> str:
        return next(k for k in RECEIVER_KINDS if getattr(self, k) is not None)


class AlertRule(SpecModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True,
                              validate_by_alias=True, serialize_by_alias=True)

    name: AlertName = Field(description="Alert name, e.g. high_cpu_usage.")
    condition: NonEmptyStr = Field(description="PromQL condition, e.g. cpu_usage > 80.")
    for_: PromDuration = Field("0s", alias="for", description="How long the condition must hold "
                                                               "before the alert fires, e.g. 5m.")
    severity: Literal["info", "warning", "critical"] = "warning"
    notify: list[SlugName] = Field(default_factory=list,
                                   description="Receivers of this tenant to notify.")
    description: str | None = None

    @field_validator("notify")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return unique_items(v, "receiver")


class RouteTimings(SpecModel):
    """Unset timings are inherited from the operator's parent route (Alertmanager's own defaults:
    30s, 5m and 4h unless the base configuration says otherwise)."""

    groupWait: PromDuration | None = Field(None, description="How long Alertmanager waits to group "
                                                             "the first alerts of a new group.")
    groupInterval: PromDuration | None = Field(None, description="How long before notifying about "
                                                                 "new alerts added to a group.")
    repeatInterval: PromDuration | None = Field(None, description="How long before re-sending a "
                                                                  "notification still firing.")


class MonitoringSpec(SpecModel):
    receivers: list[Receiver] = Field(default_factory=list)
    route: RouteTimings = Field(default_factory=RouteTimings,
                                description="Alertmanager timings of the tenant's route.")
    criticalReceiver: SlugName | None = Field(
        None, description="Receiver of critical alerts without notify (default: the first).")
    warningReceiver: SlugName | None = Field(
        None, description="Receiver of warning alerts without notify (default: the first).")
    alerts: list[AlertRule] = Field(default_factory=list)
    dashboards: StrictBool = Field(True, description="Create the tenant's Grafana dashboards.")

    @model_validator(mode="after")
    def _references(self) -> MonitoringSpec:
        problems: list[tuple[tuple, str]] = []
        names: dict[str, int] = {}
        for i, r in enumerate(self.receivers):
            if r.name in names:
                problems.append((("receivers", i, "name"),
                                 f"duplicate receiver name '{r.name}'"))
            names.setdefault(r.name, i)
        for field in ("criticalReceiver", "warningReceiver"):
            target = getattr(self, field)
            if target is not None and target not in names:
                problems.append(((field,), f"unknown receiver '{target}'"
                                           f"{did_you_mean(target, names)}"))
        alert_names: set[str] = set()
        for i, a in enumerate(self.alerts):
            if a.name in alert_names:
                problems.append((("alerts", i, "name"), f"duplicate alert name '{a.name}'"))
            alert_names.add(a.name)
            for j, target in enumerate(a.notify):
                if target not in names:
                    problems.append((("alerts", i, "notify", j),
                                     f"unknown receiver '{target}'{did_you_mean(target, names)}"))
        if problems:
            raise cross_reference_error(problems)
        return self


class IngressSpec(SpecModel):
    host: DnsName = Field(description="Public host name, e.g. acc.ai.example.com.")
    className: ObjectName | None = Field(None, description="IngressClass name.")
    tlsSecretName: ObjectName | None = Field(None, description="Secret holding the TLS certificate "
                                                              "(default ecp-ai-tls with clusterIssuer).")
    clusterIssuer: ObjectName | None = Field(
        None, description="cert-manager ClusterIssuer that issues the certificate "
                          "(annotation cert-manager.io/cluster-issuer), e.g. letsencrypt-prod.")
    maxBodySize: BodySize | None = Field(
        None, description="Largest request body (nginx.ingress.kubernetes.io/proxy-body-size), "
                          "e.g. 50m.")
    annotations: dict[LabelKey, str] = Field(default_factory=dict,
                                             description="Further annotations of the Ingress.")


class AutoscalingSpec(SpecModel):
    enabled: StrictBool = True
    maxReplicasFactor: whole_number(ge=1, le=20) = Field(  # type: ignore[valid-type]
        2, description="HPA maxReplicas = replicas x this factor.")
    targetCPUUtilization: whole_number(ge=1, le=100) = Field(  # type: ignore[valid-type]
        70, description="HPA target average CPU utilization in percent.")


GpuResourceName = patterned(
    r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-z0-9]([-a-z0-9_.]*[a-z0-9])?",
    "must be an extended resource name like nvidia.com/gpu or nvidia.com/mig-1g.10gb",
    max_length=253)


class CpuPair(SpecModel):
    request: CpuQuantity | None = None
    limit: CpuQuantity | None = None


class MemoryPair(SpecModel):
    request: MemoryQuantity | None = None
    limit: MemoryQuantity | None = None


class ServiceOverride(SpecModel):
    """This tenant's own figures for one service type, over the catalog's (docs/sizing.md)."""

    sessionsPerReplica: whole_number(ge=1, cap=MAX_SESSIONS,  # type: ignore[valid-type]
                                     cap_reason=" (the largest 64-bit integer)") | None = Field(
        None, description="Concurrent sessions one replica serves.")
    gpuResource: GpuResourceName | None = Field(  # type: ignore[valid-type]
        None, description="Extended resource the replica requests its GPU as: nvidia.com/gpu, a "
                          "MIG profile (nvidia.com/mig-1g.10gb) or a time-sliced resource; "
                          "the Project's gpuResources says how many make one GPU.")
    gpusPerReplica: whole_number(ge=0, le=64) | None = Field(  # type: ignore[valid-type]
        None, description="Units of gpuResource per replica.")
    cpu: CpuPair | None = Field(None, description="CPU request and limit of one replica.")
    memory: MemoryPair | None = Field(None, description="Memory request and limit of one replica.")


class TenantSpec(SpecModel):
    preset: Literal["small", "medium", "large", "auto"] = Field(
        "auto", description="Quota tier. auto picks the smallest tier that fits the load.")
    gpuType: GpuType = Field("t4", description="GPU type; must have a price in the project's "
                                                "price.gpuHour table.")
    demo: StrictBool = Field(False, description="A demo tenant (product demo mode).")
    services: dict[ServiceType, Sessions] = Field(
        description="Concurrent sessions per service type; 0 means not deployed.")
    image: ImageSpec = Field(default_factory=ImageSpec)
    sla: Sla
    database: DatabaseSpec = Field(default_factory=DatabaseSpec)
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    ingress: IngressSpec | None = None
    autoscaling: AutoscalingSpec = Field(default_factory=AutoscalingSpec)
    serviceOverrides: dict[ServiceType, ServiceOverride] = Field(
        default_factory=dict, description="Per-service figures of this tenant over the service "
                                          "catalog's: sessions per replica, GPU resource and "
                                          "count, CPU and memory.")

    @field_validator("services")
    @classmethod
    def _some_load(cls, v: dict[str, int]) -> dict[str, int]:
        if not any(n > 0 for n in v.values()):
            raise fail("at least one service needs more than 0 sessions")
        return v

    @property
    def active_services(self) -> dict[str, int]:
        """Services with sessions > 0, in catalog order."""
        return {s: self.services[s] for s in SERVICE_TYPES if self.services.get(s, 0) > 0}


class Tenant(SpecModel):
    apiVersion: Literal["ecp.ai/v1"]
    kind: Literal["Tenant"]
    metadata: TenantMetadata
    spec: TenantSpec

    @property
    def id(self) -> str:
        return self.metadata.name


# ====================================================================== Project


class ProjectMetadata(SpecModel):
    name: SlugName


class StateSettings(SpecModel):
    url: SecretFreeUrl | None = Field(
        None, description="State database URL (sqlite:///... or postgresql+psycopg://user@host/db) "
                          "without a password; ECPCTL_STATE_URL and --state-url override it.")
    keyFile: NonEmptyStr | None = Field(
        None, description="File holding the key (32 random bytes in base64) that encrypts "
                          "sensitive values in state and saved plans, relative to this file; "
                          "ECPCTL_STATE_KEY and ECPCTL_STATE_KEY_FILE override it.")


def _positive_duration(ms: int) -> int:
    if ms <= 0:
        raise fail("must be longer than 0s (nothing could finish in it)")
    return ms


Deadline = Annotated[DurationMs, AfterValidator(_positive_duration)]
"""How long a request or a tool may take before it fails: a duration longer than 0s."""


class KubernetesSettings(SpecModel):
    kubeconfig: NonEmptyStr | None = Field(None, description="Path of a kubeconfig file; default: "
                                                            "$KUBECONFIG or ~/.kube/config.")
    context: NonEmptyStr | None = None
    inCluster: StrictBool = Field(False, description="Use the pod's service account.")
    fieldManager: NonEmptyStr = "ecpctl"
    namespacePrefix: patterned(r"[a-z0-9][-a-z0-9]*",  # type: ignore[valid-type]
                               "must be lowercase letters, digits and '-'",
                               max_length=40) = "ecp-ai-"
    connectTimeout: Deadline = Field("10s", validate_default=True, description="How long opening "
                                     "a connection to the API server may take.")
    readTimeout: Deadline = Field("60s", validate_default=True, description="How long to wait "
                                  "for each answer of the API server on an open connection.")


def _tenant_pattern(value: str) -> str:
    if "{tenant}" not in value:
        raise fail("must contain the placeholder {tenant}")
    try:
        value.format(tenant="x")
    except (KeyError, IndexError, ValueError):
        raise fail("must use no placeholder other than {tenant}") from None
    return value


class PostgresSettings(SpecModel):
    dsnEnv: EnvVarName | None = Field(
        "ECPCTL_POSTGRES_DSN", description="Environment variable holding the admin DSN.")
    dsnFile: NonEmptyStr | None = Field(
        None, description="File holding the admin DSN; used instead of dsnEnv when set.")
    adminRole: NonEmptyStr | None = Field(
        None, description="Role granted membership of every tenant role (default: the DSN's user).")
    rolePattern: NonEmptyStr = "{tenant}_app"
    ownerRolePattern: NonEmptyStr = Field(
        "{tenant}_owner", description="The role that owns the tenant's database and schema.")
    databasePattern: NonEmptyStr = "{tenant}"
    schemaPattern: NonEmptyStr = "{tenant}"
    host: NonEmptyStr | None = Field(
        None, description="Host the tenant's services connect to (their Secret); default: the DSN's.")
    connectTimeout: DurationMs = Field("10s", validate_default=True, description="How long one "
                                       "connection attempt may take (libpq's connect_timeout).")
    statementTimeout: DurationMs = Field("60s", validate_default=True, description="How long one "
                                         "statement may run (statement_timeout); 0s: no limit.")
    lockTimeout: DurationMs = Field("10s", validate_default=True, description="How long a statement "
                                    "waits for a lock held by another session (lock_timeout); 0s: "
                                    "no limit.")

    @field_validator("rolePattern", "ownerRolePattern", "databasePattern", "schemaPattern")
    @classmethod
    def _patterns(cls, v: str) -> str:
        return _tenant_pattern(v)


class GrafanaSettings(SpecModel):
    url: HttpUrl | None = None
    tokenEnv: EnvVarName = Field("GRAFANA_TOKEN", description="Environment variable holding the "
                                                              "API token.")
    folderPrefix: NonEmptyStr = "ECP-AI"
    connectTimeout: DurationMs = Field("5s", validate_default=True, description="How long opening a "
                                       "connection may take.")
    readTimeout: DurationMs = Field("30s", validate_default=True, description="How long to wait for "
                                    "each answer (and each send) on an open connection.")


class AlertmanagerSettings(SpecModel):
    configFile: NonEmptyStr | None = Field(None, description="alertmanager.yml to merge tenant "
                                                             "routes into (file mode).")
    url: HttpUrl | None = Field(None, description="Alertmanager URL, for the reload and checks.")
    amtool: NonEmptyStr = "amtool"
    checkTimeout: Deadline = Field("60s", validate_default=True, description="How long "
                                   "`amtool check-config` may run.")
    connectTimeout: DurationMs = Field("5s", validate_default=True, description="How long opening a "
                                       "connection may take.")
    readTimeout: DurationMs = Field("30s", validate_default=True, description="How long to wait for "
                                    "each answer (and each send) on an open connection.")


class PrometheusSettings(SpecModel):
    url: HttpUrl | None = Field(None, description="Prometheus URL: `ecpctl sla` queries it; rules "
                                                  "file mode reloads it and checks /api/v1/rules.")
    rulesDir: NonEmptyStr | None = Field(None, description="Directory of rule files the running "
                                                           "Prometheus loads (rules file mode).")
    promtool: NonEmptyStr = "promtool"
    checkTimeout: Deadline = Field("60s", validate_default=True, description="How long "
                                   "`promtool check rules` may run.")


class ProviderSettings(SpecModel):
    kubernetes: KubernetesSettings | None = None
    postgres: PostgresSettings | None = None
    grafana: GrafanaSettings | None = None
    alertmanager: AlertmanagerSettings | None = None
    prometheus: PrometheusSettings | None = None


def _default_gpu_prices() -> dict[str, Decimal]:
    return {"t4": Decimal("0.35"), "a10": Decimal("0.75"), "a100": Decimal("2.5"),
            "v100": Decimal("1.2")}


class PriceTable(SpecModel):
    """Placeholder list prices (roughly public-cloud on-demand rates); put your own here."""

    currency: patterned(r"[A-Z]{3}", "must be a 3-letter currency code like USD",  # type: ignore[valid-type]
                        max_length=3) = "USD"
    hoursPerMonth: amount(exclusive=True, maximum=MAX_HOURS_PER_MONTH,  # type: ignore[valid-type]
                          max_reason=" (31 days)") = Decimal("730")  # type: ignore[valid-type]
    cpuCoreHour: amount() = Decimal("0.04")  # type: ignore[valid-type]
    memoryGiBHour: amount() = Decimal("0.005")  # type: ignore[valid-type]
    gpuHour: dict[GpuType, amount()] = Field(default_factory=_default_gpu_prices)  # type: ignore[valid-type]


class FleetDashboard(SpecModel):
    """One Grafana dashboard over every tenant of the workspace (ecpctl/dashboards_fleet.py)."""

    enabled: StrictBool = Field(False, description="Create the fleet dashboard (address "
                                                   "tenant._project...): active tenants, CPU, "
                                                   "memory and GPU per tenant, deployment "
                                                   "success rate.")
    namespace: DnsLabel = Field(  # type: ignore[valid-type]
        "monitoring", description="dashboardsMode configmap: the namespace of its ConfigMap, one "
                                  "that Grafana's sidecar watches; it must exist.")


class ProjectMonitoring(SpecModel):
    ruleLabels: dict[LabelKey, LabelValue] = Field(
        default_factory=lambda: {"release": "kube-prometheus-stack"},
        description="Labels on every PrometheusRule so the Prometheus operator selects them.")
    dashboardsMode: Literal["http", "configmap"] = Field(
        "configmap", description="configmap: dashboards as ConfigMaps for the Grafana sidecar; "
                                 "http: through Grafana's API.")
    alertmanagerMode: Literal["file", "kubernetes"] = Field(
        "kubernetes", description="kubernetes: AlertmanagerConfig objects; file: merge into "
                                  "alertmanager.yml.")
    rulesMode: Literal["kubernetes", "file"] = Field(
        "kubernetes", description="kubernetes: PrometheusRule objects; file: rule files in "
                                  "providers.prometheus.rulesDir, reloaded and verified.")
    timeCompression: whole_number(ge=1, le=60) = Field(  # type: ignore[valid-type]
        1, description="Divide every window and `for:` of the generated rules by this (the "
                       "sandbox uses 10); keep 1 on real clusters.")
    fleetDashboard: FleetDashboard = Field(default_factory=FleetDashboard,
                                           description="The fleet dashboard, in dashboardsMode.")



class S3Credentials(SpecModel):
    secretName: ObjectName = Field(description="Secret in each tenant namespace holding the "
                                               "bucket's access key (put there by the platform, "
                                               "e.g. an External Secrets Operator).")
    accessKeyIdKey: NonEmptyStr = "access-key-id"
    secretAccessKeyKey: NonEmptyStr = "secret-access-key"


class ProjectBackup(SpecModel):
    """Defaults of every tenant's spec.database.backup."""

    enabled: StrictBool = Field(False, description="Back up every tenant that has a database "
                                                   "(a tenant opts out with backup.enabled: false).")
    schedule: CronSchedule = "0 2 * * *"
    retainDays: whole_number(ge=1, le=3650) = 7  # type: ignore[valid-type]
    target: BackupTarget = Field(default_factory=lambda: BackupTarget(pvc=PvcBackupTarget()))
    image: ImageRef = Field("postgres:15-alpine", description="Image with pg_dump (its major "
                                                              "version >= the server's).")
    uploaderImage: ImageRef = Field("amazon/aws-cli:2.17.0",
                                    description="Image with the aws CLI, for s3 targets.")
    s3Credentials: S3Credentials | None = Field(
        None, description="Where s3 targets take their credentials from (never the spec).")


class ResourceAmounts(SpecModel):
    cpu: CpuQuantity | None = None
    memory: MemoryQuantity | None = None


class LimitRangePolicy(SpecModel):
    default: ResourceAmounts = Field(
        default_factory=lambda: ResourceAmounts(cpu="500m", memory="512Mi"),
        description="Limits of a container that sets none.")
    defaultRequest: ResourceAmounts = Field(
        default_factory=lambda: ResourceAmounts(cpu="100m", memory="128Mi"),
        description="Requests of a container that sets none.")
    min: ResourceAmounts | None = None
    max: ResourceAmounts | None = None

    @model_validator(mode="after")
    def _ordered(self) -> LimitRangePolicy:
        order = [("min", self.min), ("defaultRequest", self.defaultRequest),
                 ("default", self.default), ("max", self.max)]
        for res, parse in (("cpu", parse_cpu), ("memory", parse_memory)):
            seen = [(n, getattr(a, res)) for n, a in order if a is not None and getattr(a, res)]
            for (n1, v1), (n2, v2) in zip(seen, seen[1:]):
                if parse(v1) > parse(v2):
                    raise fail(f"{n1}.{res} {v1} is more than {n2}.{res} {v2}")
        return self


class QuotaObjects(SpecModel):
    services: whole_number(ge=0) | None = Field(  # type: ignore[valid-type]
        None, description="Most Services a tenant namespace may hold.")
    persistentvolumeclaims: whole_number(ge=0) | None = Field(  # type: ignore[valid-type]
        None, description="Most PersistentVolumeClaims a tenant namespace may hold.")


class EgressPolicy(SpecModel):
    enabled: StrictBool = Field(False, description="Restrict the tenant pods' outgoing traffic to "
                                                   "this allow-list (NetworkPolicy egress).")
    dns: StrictBool = Field(True, description="DNS (port 53) to kube-system.")
    postgres: StrictBool = Field(True, description="The tenant's Postgres host and port.")
    https: StrictBool = Field(True, description="Port 443 anywhere (APIs, object storage).")
    cidrs: list[Cidr] = Field(default_factory=list, description="Further destinations, any port.")


class GpuResource(SpecModel):
    perGpu: whole_number(ge=1, le=64) = Field(  # type: ignore[valid-type]
        description="Units of this resource one physical GPU provides: the device plugin's "
                    "time-slicing replicas, or the slices of this MIG profile per GPU (7 for "
                    "mig-1g.10gb on an A100 80GB).")


class ClusterPolicy(SpecModel):
    limitRange: LimitRangePolicy = Field(default_factory=LimitRangePolicy)
    quotaObjects: QuotaObjects = Field(default_factory=QuotaObjects)
    egress: EgressPolicy = Field(default_factory=EgressPolicy)


class WorkspaceSettings(SpecModel):
    demo: StrictBool = Field(False, description="A demo workspace: it takes tenants with "
                                                "`demo: true` and refuses the others.")
    mixedTenants: StrictBool = Field(False, description="Take demo and production tenants alike "
                                                        "(no check of `spec.demo`).")
    description: str | None = None
    providers: ProviderSettings | None = Field(
        None, description="Provider settings of this workspace, merged field by field over the "
                          "project-wide spec.providers (a kubeconfig or context, namespacePrefix, "
                          "the Postgres DSN and name patterns, Grafana and Alertmanager URLs).")


class ProjectSpec(SpecModel):
    state: StateSettings = Field(default_factory=StateSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    price: PriceTable = Field(default_factory=PriceTable)
    monitoring: ProjectMonitoring = Field(default_factory=ProjectMonitoring)
    workspaces: dict[SlugName, WorkspaceSettings] = Field(default_factory=dict)
    gpuProducts: dict[GpuType, LabelValue] = Field(
        default_factory=dict,
        description="GPU type -> value of the nvidia.com/gpu.product node label that device "
                    "plugins set (t4: Tesla-T4). A GPU service of a tenant whose gpuType is "
                    "listed gets that node selector, and capacity is counted on those nodes.")
    gpuResources: dict[GpuResourceName, GpuResource] = Field(  # type: ignore[valid-type]
        default_factory=dict,
        description="GPU resources that are a share of a physical GPU: how many units of each "
                    "one GPU provides (time-slicing replicas, MIG slices). nvidia.com/gpu is 1 "
                    "unless listed.")
    backup: ProjectBackup = Field(default_factory=ProjectBackup,
                                  description="Tenant database backups: defaults of every tenant.")
    policy: ClusterPolicy = Field(default_factory=ClusterPolicy,
                                  description="LimitRange, quota object counts and egress of "
                                              "every tenant namespace.")

    @model_validator(mode="after")
    def _s3_credentials(self) -> ProjectSpec:
        if self.backup.target.kind == "s3" and self.backup.s3Credentials is None:
            raise cross_reference_error([(("backup", "s3Credentials"),
                                          "an s3 backup target needs s3Credentials (the Secret "
                                          "holding the bucket's key)")])
        return self


class Project(SpecModel):
    apiVersion: Literal["ecp.ai/v1"]
    kind: Literal["Project"]
    metadata: ProjectMetadata
    spec: ProjectSpec = Field(default_factory=ProjectSpec)


def default_project() -> Project:
    """The project used when PATH holds none: defaults everywhere, no providers configured."""
    return Project(apiVersion=API_VERSION, kind="Project", metadata=ProjectMetadata(name="default"))


KINDS: dict[str, type[SpecModel]] = {"Project": Project, "Tenant": Tenant}

__all__ = [
    "API_VERSION", "SERVICE_TYPES", "PRESETS", "KINDS", "did_you_mean", "default_project",
    "Tenant", "TenantMetadata", "TenantSpec", "ImageSpec", "Sla", "DatabaseSpec", "MonitoringSpec",
    "Receiver", "WebhookConfig", "EmailConfig", "SlackConfig", "AlertRule", "IngressSpec",
    "AutoscalingSpec", "Project", "ProjectMetadata", "ProjectSpec", "StateSettings",
    "ProviderSettings", "KubernetesSettings", "PostgresSettings", "GrafanaSettings",
    "AlertmanagerSettings", "PriceTable", "ProjectMonitoring", "WorkspaceSettings",
    "DatabaseBackup", "BackupTarget", "PvcBackupTarget", "S3BackupTarget", "ProjectBackup",
    "S3Credentials", "ClusterPolicy", "LimitRangePolicy", "ResourceAmounts", "QuotaObjects",
    "EgressPolicy",
]
