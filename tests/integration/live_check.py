"""An independent judge of what ecpctl left in the live systems, for the fault tests.

It never asks ecpctl's plan, state or providers: it reads the Kubernetes API with kubectl, the
Postgres catalogs with psycopg, and the Alertmanager config file (and the running server's loaded
config) itself. What *should* exist comes from the spec files through the expansion alone (the same
function that turns YAML into objects, with no state and no provider involved).

`LiveCheck.check(spec, universe)` says, one line per finding:
  * missing    a desired object that is not live;
  * wrong      a live object whose field differs from the desired one (sensitive values excepted:
               generated passwords are proven by logging in instead);
  * leftover   a live object carrying ecpctl's marks for a tenant of `universe` that the spec no
               longer wants (objects being deleted by the cluster's garbage collector are not
               counted: their deletion was requested and is only waiting for finalizers);
  * login      a tenant's Secret whose DATABASE_URL does not log in to its own database.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

MANAGED = "app.kubernetes.io/managed-by=ecpctl"
TENANT_LABEL = "ecp.ai/tenant"

# Every kind ecpctl may create, so that leftovers of any kind are found even when the spec wants none.
KINDS = ("namespaces", "resourcequotas", "limitranges", "serviceaccounts", "configmaps", "secrets",
         "deployments.apps", "services", "poddisruptionbudgets.policy",
         "networkpolicies.networking.k8s.io", "horizontalpodautoscalers.autoscaling",
         "ingresses.networking.k8s.io", "prometheusrules.monitoring.coreos.com",
         "servicemonitors.monitoring.coreos.com", "alertmanagerconfigs.monitoring.coreos.com")

_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i?|[munk])?$")
_SUFFIX = {"": 1, "m": Decimal("0.001"), "u": Decimal("1e-6"), "n": Decimal("1e-9"),
           "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18,
           "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}


@dataclass
class LiveReport:
    missing: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    leftover: list[str] = field(default_factory=list)
    login: list[str] = field(default_factory=list)
    checked: int = 0           # desired objects compared
    logins: int = 0            # Secrets that logged in

    @property
    def ok(self) -> bool:
        return not (self.missing or self.wrong or self.leftover or self.login)

    def __str__(self) -> str:
        lines = [f"checked {self.checked} desired objects, {self.logins} logins"]
        for what in ("missing", "wrong", "leftover", "login"):
            lines += [f"{what}: {x}" for x in getattr(self, what)]
        return "\n".join(lines)


@dataclass(frozen=True)
class Desired:
    """One desired object as the checker sees it: where it lives and the fields it must have."""
    address: str
    provider: str
    type: str
    tenant: str
    attributes: Mapping[str, Any]
    sensitive: tuple[str, ...]


def desired_objects(spec: Path, env: Mapping[str, str] | None = None) -> list[Desired]:
    """The objects the spec files ask for: expansion only (no state, no plan, no provider).
    `env` holds what the spec reads from the environment (a Project's `dsnEnv`)."""
    from ecpctl.engine import desired_state
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        resources = desired_state(spec).resources
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return [Desired(r.address, r.provider, r.type, r.tenant, r.attributes, tuple(r.sensitive))
            for r in resources]


class LiveCheck:
    """Reads the live systems: `kubectl` runs a kubectl command (argv without the binary) and
    returns its stdout; `pg_admin_dsn` is a superuser DSN of the tenants' Postgres server."""

    def __init__(self, kubectl: Callable[..., str], pg_admin_dsn: str | None = None, *,
                 alertmanager_file: Path | None = None, alertmanager_url: str | None = None,
                 env: Mapping[str, str] | None = None):
        self.env = dict(env or {})
        self.kubectl = kubectl
        self.pg_admin_dsn = pg_admin_dsn
        self.alertmanager_file = alertmanager_file
        self.alertmanager_url = alertmanager_url

    @classmethod
    def for_control_plane(cls, cp, pg_admin_dsn: str | None, **kw) -> LiveCheck:
        def run(*args: str) -> str:
            return cp.kubectl(*args, timeout=60).stdout
        return cls(run, pg_admin_dsn, **kw)

    # --- the verdict ---------------------------------------------------------------------------

    def check(self, spec: Path, universe: Iterable[str], *, login: bool = True) -> LiveReport:
        desired = desired_objects(spec, self.env)
        universe = set(universe) | {d.tenant for d in desired}
        report = LiveReport()
        kube = self.kube_objects()
        pg = self.pg_catalog(universe) if self.pg_admin_dsn else None
        wanted: set[tuple] = set()
        for d in desired:
            if d.provider == "kubernetes":
                key = kube_key(d.attributes)
                wanted.add(key)
                self._compare(report, d, kube.get(key))
            elif d.provider == "postgres":
                if pg is None:
                    continue
                key = pg_key(d.type, d.attributes)
                wanted.add(key)
                self._compare(report, d, pg.get(key))
        for key, obj in sorted(kube.items()):
            meta = obj.get("metadata", {})
            if key not in wanted and meta.get("labels", {}).get(TENANT_LABEL) in universe \
                    and not meta.get("deletionTimestamp"):
                report.leftover.append("kubernetes " + "/".join(k for k in key if k))
        if pg is not None:
            for key in sorted(set(pg) - wanted):
                if key[0] in ("role", "database"):      # the rest go with their database
                    report.leftover.append(f"postgres {key[0]} {key[-1]}")
        if self.alertmanager_file is not None or self.alertmanager_url is not None:
            self._check_alertmanager(report, desired, universe)
        if login and pg is not None:
            self._check_logins(report, desired, kube)
        return report

    def read(self, universe: Iterable[str]) -> tuple[dict, dict]:
        """One reading of the live systems, for several `live_addresses` questions."""
        return self.kube_objects(), self.pg_catalog(universe) if self.pg_admin_dsn else {}

    def live_addresses(self, spec: Path, *, matching: bool = False,
                       reading: tuple[dict, dict] | None = None) -> set[str]:
        """Addresses of the spec's desired objects that exist live now (not being deleted); with
        `matching`, only those whose live fields are the desired ones (sensitive values aside)."""
        desired = desired_objects(spec, self.env)
        kube, pg = reading or self.read({d.tenant for d in desired})
        out = set()
        for d in desired:
            if d.provider == "kubernetes":
                live = kube.get(kube_key(d.attributes))
            elif d.provider == "postgres":
                live = pg.get(pg_key(d.type, d.attributes))
            else:
                continue
            if live is None or live.get("metadata", {}).get("deletionTimestamp"):
                continue
            if matching:
                probe = LiveReport()
                self._compare(probe, d, live)
                if not probe.ok:
                    continue
            out.add(d.address)
        return out

    def password_works(self, role: str, password: str, database: str) -> bool:
        """Whether `role` logs in with `password` now (a generated password is never readable
        back from the catalog: logging in is the only way to know which one the role has)."""
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo
        info = {**conninfo_to_dict(self.pg_admin_dsn), "user": role, "password": password,
                "dbname": database, "connect_timeout": 10}
        try:
            with psycopg.connect(make_conninfo(**info)):
                return True
        except psycopg.OperationalError as exc:
            if "password authentication failed" in str(exc):
                return False
            raise

    def _compare(self, report: LiveReport, d: Desired, live: Any) -> None:
        report.checked += 1
        if live is None or (isinstance(live, dict) and live.get("metadata", {}).get("deletionTimestamp")):
            report.missing.append(d.address)
            return
        skip = d.sensitive
        if d.type == "grant" and live.get("privileges") is None:
            skip += ("privileges",)            # no table or sequence yet: holds vacuously
        for path, want, got in differences(d.attributes, live, skip=skip):
            report.wrong.append(f"{d.address}: {path}: want {_short(want)}, live {_short(got)}")
        for path in d.sensitive:        # a generated value: it must be there (login proves it is right)
            top = path.split(".")[0]
            want = d.attributes.get(top)
            if isinstance(want, Mapping) and isinstance(live, Mapping):
                have = live.get(top) or {}
                for k in want:
                    if k not in have:
                        report.wrong.append(f"{d.address}: {top}.{k}: missing")

    # --- Kubernetes ----------------------------------------------------------------------------

    def kube_objects(self) -> dict[tuple, dict]:
        """Every object with ecpctl's managed-by label, keyed (apiVersion-group, kind, namespace, name)."""
        text = self.kubectl("get", ",".join(KINDS), "-A", "-l", MANAGED, "-o", "json")
        out = {}
        for obj in json.loads(text)["items"]:
            out[kube_key(obj)] = obj
        return out

    # --- Postgres ------------------------------------------------------------------------------

    def pg_catalog(self, universe: Iterable[str]) -> dict[tuple, dict]:
        """Roles, databases, schemas and grants read from the catalogs, in the shape of the desired
        attributes; only names that belong to tenants of `universe` (`<tenant>` or `<tenant>_*`)."""
        import psycopg
        prefixes = sorted({t.replace("-", "_") for t in universe})

        def ours(name: str) -> bool:
            return any(name == p or name.startswith(p + "_") for p in prefixes)

        out: dict[tuple, dict] = {}
        with psycopg.connect(self.pg_admin_dsn, autocommit=True, connect_timeout=10) as conn:
            for name, login, limit, inherit, config in conn.execute(
                    "SELECT rolname, rolcanlogin, rolconnlimit, rolinherit, rolconfig FROM pg_roles"):
                if ours(name):
                    out[("role", name)] = {"name": name, "login": login, "connection_limit": limit,
                                           "inherit": inherit,
                                           "config": dict(c.split("=", 1) for c in config or ())}
            dbs = []
            for name, owner, enc, collate, limit in conn.execute(
                    "SELECT datname, pg_get_userbyid(datdba), pg_encoding_to_char(encoding), "
                    "datcollate, datconnlimit FROM pg_database WHERE NOT datistemplate"):
                if ours(name):
                    dbs.append(name)
                    out[("database", name)] = {"name": name, "owner": owner, "encoding": enc,
                                               "locale": collate, "connection_limit": limit}
                    for role, privs in _acl(conn, "SELECT datacl::text[] FROM pg_database WHERE datname = %s",
                                            name).items():
                        out[("grant", name, role, "database", None, None)] = {
                            "database": name, "role": role, "object_type": "database",
                            "schema": None, "for_role": None, "privileges": privs}
        for db in dbs:
            try:
                conn = psycopg.connect(_with_dbname(self.pg_admin_dsn, db), autocommit=True,
                                       connect_timeout=10)
            except psycopg.OperationalError:
                continue                   # being dropped right now
            with conn:
                for (schema, owner) in conn.execute(
                        "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace "
                        "WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN "
                        "('information_schema', 'public')"):
                    out[("schema", db, schema)] = {"database": db, "name": schema, "owner": owner}
                    for role, privs in _acl(conn, "SELECT nspacl::text[] FROM pg_namespace WHERE nspname = %s",
                                            schema).items():
                        out[("grant", db, role, "schema", schema, None)] = {
                            "database": db, "role": role, "object_type": "schema",
                            "schema": schema, "for_role": None, "privileges": privs}
                for for_role, schema, objtype, acl in conn.execute(
                        "SELECT pg_get_userbyid(d.defaclrole), n.nspname, d.defaclobjtype::text, "
                        "d.defaclacl::text[] FROM pg_default_acl d "
                        "JOIN pg_namespace n ON n.oid = d.defaclnamespace"):
                    kind = {"r": "default_table", "S": "default_sequence"}.get(objtype)
                    if kind is None:
                        continue
                    for role, privs in _parse_acl(acl, objtype).items():
                        out[("grant", db, role, kind, schema, for_role)] = {
                            "database": db, "role": role, "object_type": kind, "schema": schema,
                            "for_role": for_role, "privileges": privs}
                # a grant on ALL TABLES / SEQUENCES IN SCHEMA: what every such object holds now
                # (with none in the schema, the grant holds vacuously: privileges None)
                for relkind, kind in (("r", "table"), ("S", "sequence")):
                    for schema, oid, acl in conn.execute(
                            "SELECT n.nspname, c.oid, c.relacl::text[] FROM pg_namespace n LEFT JOIN "
                            "pg_class c ON c.relnamespace = n.oid AND c.relkind = %s "
                            "WHERE n.nspname NOT LIKE 'pg\\_%%'", (relkind,)):
                        for role in {k[2] for k in out if k[:2] == ("grant", db)}:
                            key = ("grant", db, role, kind, schema, None)
                            held = _parse_acl(acl, relkind).get(role, []) if oid is not None else None
                            prev = out.get(key, {"privileges": None})["privileges"]
                            if prev is not None and held is not None:
                                held = sorted(set(prev) & set(held))
                            elif held is None:
                                held = prev
                            out[key] = {"database": db, "role": role, "object_type": kind,
                                        "schema": schema, "for_role": None, "privileges": held}
                for (ext,) in conn.execute("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'"):
                    out[("extension", db, ext)] = {"database": db, "name": ext}
        return out

    def _check_logins(self, report: LiveReport, desired: list[Desired], kube: Mapping) -> None:
        """Each tenant's Secret logs in to its own database with the credentials it holds."""
        import psycopg
        dbs = {d.tenant: d.attributes["name"] for d in desired
               if d.provider == "postgres" and d.type == "database"}
        for d in desired:
            if d.type != "v1.Secret" or "DATABASE_URL" not in (d.attributes.get("data") or {}):
                continue
            live = kube.get(kube_key(d.attributes))
            if live is None:
                continue                       # reported as missing already
            try:
                url = base64.b64decode(live["data"]["DATABASE_URL"]).decode()
                with psycopg.connect(url, connect_timeout=10) as conn:
                    user, db = conn.execute("SELECT current_user, current_database()").fetchone()
                if d.tenant in dbs and db != dbs[d.tenant]:
                    report.login.append(f"{d.address}: logged in to {db}, not {dbs[d.tenant]}")
                    continue
                report.logins += 1
            except (KeyError, ValueError, psycopg.Error) as exc:
                # the message of a failed login names the role, never the password
                report.login.append(f"{d.address}: {type(exc).__name__}: "
                                    f"{str(exc).splitlines()[0] if str(exc) else ''}")

    # --- Alertmanager (file mode) --------------------------------------------------------------

    def _check_alertmanager(self, report: LiveReport, desired: list[Desired], universe: set[str]) -> None:
        import yaml
        configs = []
        if self.alertmanager_file is not None:
            configs.append(("file", yaml.safe_load(self.alertmanager_file.read_text()) or {}))
        if self.alertmanager_url is not None:   # what the running server loaded
            import urllib.request
            with urllib.request.urlopen(self.alertmanager_url.rstrip("/") + "/api/v2/status",
                                        timeout=10) as resp:
                configs.append(("server", yaml.safe_load(json.load(resp)["config"]["original"])))
        for where, cfg in configs:
            receivers = {r["name"]: r for r in cfg.get("receivers") or ()}
            routes = {}
            for r in (cfg.get("route") or {}).get("routes") or ():
                for m in r.get("matchers") or ():
                    found = re.fullmatch(r'\s*tenant_id\s*=\s*"?([^"]*)"?\s*', str(m))
                    if found:
                        routes[found.group(1)] = r
            want_receivers, want_routes = set(), set()
            for d in desired:
                if d.provider != "alertmanager":
                    continue
                report.checked += 1
                if d.type == "receiver":
                    name = d.attributes.get("name", "")
                    want_receivers.add(name)
                    if name not in receivers:
                        report.missing.append(f"{d.address} ({where})")
                    else:
                        for path, want, got in differences(
                                {k: v for k, v in d.attributes.items() if k != "name"},
                                receivers[name], skip=d.sensitive):
                            report.wrong.append(f"{d.address} ({where}): {path}: want {_short(want)}, "
                                                f"live {_short(got)}")
                elif d.type == "route":
                    want_routes.add(d.tenant)
                    if d.tenant not in routes:
                        report.missing.append(f"{d.address} ({where})")
            for name in receivers:
                if "/" in name and name.split("/", 1)[0] in universe and name not in want_receivers:
                    report.leftover.append(f"alertmanager receiver {name} ({where})")
            for tenant in routes:
                if tenant in universe and tenant not in want_routes:
                    report.leftover.append(f"alertmanager route of {tenant} ({where})")


# --- comparison ------------------------------------------------------------------------------------

def kube_key(obj: Mapping) -> tuple:
    group = obj.get("apiVersion", "").rpartition("/")[0]
    meta = obj.get("metadata") or {}
    return (group, obj.get("kind"), meta.get("namespace") or "", meta.get("name"))


def pg_key(rtype: str, a: Mapping) -> tuple:
    if rtype in ("role", "database"):
        return (rtype, a["name"])
    if rtype == "schema":
        return ("schema", a["database"], a["name"])
    if rtype == "extension":
        return ("extension", a["database"], a["name"])
    if rtype == "grant":
        return ("grant", a["database"], a["role"], a["object_type"], a.get("schema"), a.get("for_role"))
    return (rtype, json.dumps(a, sort_keys=True))


def differences(want: Any, live: Any, *, path: str = "", skip: Iterable[str] = ()) -> list[tuple]:
    """(path, want, live) for every desired leaf that the live object does not hold."""
    skip = tuple(skip)
    if path and any(path == s or path.startswith(s + ".") for s in skip):
        return []
    if isinstance(want, Mapping):
        if not isinstance(live, Mapping):
            return [(path or ".", want, live)]
        out = []
        for k, v in want.items():
            if v is None and k not in live:
                continue
            out += differences(v, live.get(k), path=f"{path}.{k}" if path else k, skip=skip)
        return out
    if isinstance(want, list):
        if not isinstance(live, list) or len(live) != len(want):
            return [(path, want, live)]
        out = []
        for i, (w, v) in enumerate(zip(want, live)):
            out += differences(w, v, path=f"{path}.{i}", skip=skip)
        return out
    if _same_scalar(want, live):
        return []
    return [(path, want, live)]


def _same_scalar(want: Any, live: Any) -> bool:
    if want == live:
        return True
    if isinstance(want, (int, float)) and isinstance(live, str) or isinstance(want, str) and isinstance(live, (int, float)):
        return str(want) == str(live)
    if isinstance(want, str) and isinstance(live, str):
        a, b = _quantity(want), _quantity(live)
        return a is not None and a == b
    return False


def _quantity(text: str) -> Decimal | None:
    m = _QUANTITY.match(text)
    if not m:
        return None
    suffix = m.group(3) or ""
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(text)
        return Decimal(text[: len(text) - len(suffix)]) * Decimal(_SUFFIX[suffix])
    except (InvalidOperation, KeyError):
        return None


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_PRIV = {"a": "INSERT", "r": "SELECT", "w": "UPDATE", "d": "DELETE", "D": "TRUNCATE",
         "x": "REFERENCES", "t": "TRIGGER", "X": "EXECUTE", "U": "USAGE", "C": "CREATE",
         "c": "CONNECT", "T": "TEMPORARY", "m": "MAINTAIN"}


def _acl(conn, query: str, name: str) -> dict[str, list[str]]:
    row = conn.execute(query, (name,)).fetchone()
    return _parse_acl(row[0] if row else None, "")


def _parse_acl(items: Iterable[str] | None, _objtype: str) -> dict[str, list[str]]:
    """`grantee=privs/grantor` items -> {grantee: sorted privilege names} (PUBLIC and owners' own
    implicit rights left out: ecpctl grants to its roles, not to PUBLIC)."""
    out: dict[str, list[str]] = {}
    for item in items or ():
        grantee, _, rest = item.partition("=")
        privs = rest.split("/", 1)[0].replace("*", "")
        if not grantee:
            continue
        grantee = grantee.strip('"')
        out[grantee] = sorted({_PRIV[c] for c in privs if c in _PRIV})
    return out


def _with_dbname(dsn: str, db: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    return make_conninfo(**{**conninfo_to_dict(dsn), "dbname": db})


def kubectl_runner(kubectl: Path, kubeconfig: Path) -> Callable[..., str]:
    """A `kubectl` callable for LiveCheck from a binary and a kubeconfig."""
    def run(*args: str) -> str:
        return subprocess.run([str(kubectl), "--kubeconfig", str(kubeconfig), *args], check=True,
                              capture_output=True, text=True, timeout=60).stdout
    return run
