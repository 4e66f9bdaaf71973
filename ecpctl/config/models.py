"""The spec file models (`apiVersion: ecp.ai/v1`, kinds `Tenant` and `Project`): pydantic v2, frozen.

Every model forbids unknown fields; field types carry their own short error messages (see types.py).
"""

from __future__ import annotations

import difflib
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator, model_validator,
)
from pydantic_core import PydanticCustomError

from ecpctl.config.limits import INT32_MAX, MAX_HOURS_PER_MONTH, MAX_SESSIONS
from ecpctl.config.types import (
    AlertName, DnsName, DurationMs, Email, EnvVarName, ExtensionName, HttpUrl, ImageRegistry,
    ImageTag, LabelKey, LabelValue, NonEmptyStr, ObjectName, Percentage, PgToken, PromDuration,
    SecretFreeUrl, SlugName, SqlName, StrictBool, TenantLabelKey, TenantName, amount, fail,
    patterned, unique_items, whole_number,
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
    def _exactly_one(self) -> "Receiver":
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


class MonitoringSpec(SpecModel):
    receivers: list[Receiver] = Field(default_factory=list)
    alerts: list[AlertRule] = Field(default_factory=list)
    dashboards: StrictBool = Field(True, description="Create the tenant's Grafana dashboards.")

    @model_validator(mode="after")
    def _references(self) -> "MonitoringSpec":
        problems: list[tuple[tuple, str]] = []
        names: dict[str, int] = {}
        for i, r in enumerate(self.receivers):
            if r.name in names:
                problems.append((("receivers", i, "name"),
                                 f"duplicate receiver name '{r.name}'"))
            names.setdefault(r.name, i)
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
    tlsSecretName: ObjectName | None = Field(None, description="Secret holding the TLS certificate.")


class AutoscalingSpec(SpecModel):
    enabled: StrictBool = True
    maxReplicasFactor: whole_number(ge=1, le=20) = Field(  # type: ignore[valid-type]
        2, description="HPA maxReplicas = replicas x this factor.")
    targetCPUUtilization: whole_number(ge=1, le=100) = Field(  # type: ignore[valid-type]
        70, description="HPA target average CPU utilization in percent.")


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


class KubernetesSettings(SpecModel):
    kubeconfig: NonEmptyStr | None = Field(None, description="Path of a kubeconfig file; default: "
                                                            "$KUBECONFIG or ~/.kube/config.")
    context: NonEmptyStr | None = None
    inCluster: StrictBool = Field(False, description="Use the pod's service account.")
    fieldManager: NonEmptyStr = "ecpctl"
    namespacePrefix: patterned(r"[a-z0-9][-a-z0-9]*",  # type: ignore[valid-type]
                               "must be lowercase letters, digits and '-'",
                               max_length=40) = "ecp-ai-"


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
    databasePattern: NonEmptyStr = "{tenant}"
    schemaPattern: NonEmptyStr = "{tenant}"
    host: NonEmptyStr | None = Field(
        None, description="Host the tenant's services connect to (their Secret); default: the DSN's.")

    @field_validator("rolePattern", "databasePattern", "schemaPattern")
    @classmethod
    def _patterns(cls, v: str) -> str:
        return _tenant_pattern(v)


class GrafanaSettings(SpecModel):
    url: HttpUrl | None = None
    tokenEnv: EnvVarName = Field("GRAFANA_TOKEN", description="Environment variable holding the "
                                                              "API token.")
    folderPrefix: NonEmptyStr = "ECP-AI"


class AlertmanagerSettings(SpecModel):
    configFile: NonEmptyStr | None = Field(None, description="alertmanager.yml to merge tenant "
                                                             "routes into (file mode).")
    url: HttpUrl | None = Field(None, description="Alertmanager URL, for the reload and checks.")
    amtool: NonEmptyStr = "amtool"


class ProviderSettings(SpecModel):
    kubernetes: KubernetesSettings | None = None
    postgres: PostgresSettings | None = None
    grafana: GrafanaSettings | None = None
    alertmanager: AlertmanagerSettings | None = None


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


class WorkspaceSettings(SpecModel):
    demo: StrictBool = False
    description: str | None = None


class ProjectSpec(SpecModel):
    state: StateSettings = Field(default_factory=StateSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    price: PriceTable = Field(default_factory=PriceTable)
    monitoring: ProjectMonitoring = Field(default_factory=ProjectMonitoring)
    workspaces: dict[SlugName, WorkspaceSettings] = Field(default_factory=dict)


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
]
