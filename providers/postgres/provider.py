"""PostgresProvider: the provider protocol over the catalog reads (observe), the statements
(operations) and the connection pool; errors leave it only as ProviderError or diagnostics."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, ClassVar
from collections.abc import Iterator, Mapping

import psycopg

from ecpctl.kernel import Diagnostic, Invalid, ProviderError, ProviderNotConfigured
from ecpctl.kernel.owner_check import refuse_write
from providers.postgres import catalog, marks, names, objects
from providers.postgres import privileges as privs
from providers.postgres.connection import Pool, Scrubber, Settings, load_dsn, parse_dsn, translate
from providers.postgres.observe import Reader, Wanted
from providers.postgres.operations import Ops
from providers.protocol import (ApplyRequest, ApplyResponse, ConfigureRequest, ConfigureResponse,
                                DeleteRequest, DeleteResponse, ImportRequest, ImportResponse,
                                LiveObject, PlanRequest, PlanResponse, Provider, ReadRequest,
                                ReadResponse, ResourceState, ValidateRequest, ValidateResponse)


class PostgresProvider(Provider):
    name: ClassVar[str] = "postgres"

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._pool: Pool | None = None
        self._params: dict[str, Any] = {}
        self._ops: Ops | None = None
        self._reader: Reader | None = None
        self._version = 150000
        self.scrub = Scrubber()

    @classmethod
    def requires_replace(cls, rtype: str) -> tuple[str, ...]:
        return objects.REQUIRES_REPLACE.get(rtype, ())

    @classmethod
    def marks(cls, rtype: str) -> bool:
        return rtype in marks.MARKED

    def target(self) -> Mapping[str, Any]:
        if self._pool is None:
            raise ProviderNotConfigured("provider postgres is not configured")
        pool, params = self._pool, self._params
        return pool.run(pool.admin_db, lambda conn: marks.server_target(conn, params))

    @classmethod
    def rotates_in_place(cls, rtype: str) -> bool:
        # ALTER ROLE ... PASSWORD renews a role's password; dropping it would drop its grants
        return rtype == "role"

    # --- configure ---------------------------------------------------------------------------

    def configure(self, req: ConfigureRequest) -> ConfigureResponse:
        settings = Settings.from_mapping(req.settings or {}, req.options)
        try:
            dsn = load_dsn(settings)
            params = parse_dsn(dsn, settings)
        except ProviderNotConfigured as exc:
            return ConfigureResponse((Diagnostic.error(exc.reason),))
        self.scrub.add(dsn)
        self.scrub.add(params.get("password"))
        pool = Pool(params, settings, self.scrub, max_size=settings.pool_size)
        try:
            info = pool.run(pool.admin_db, catalog.admin)
            admin = settings.admin_role or info["user"]
            admin_row = (pool.run(pool.admin_db, lambda c: catalog.roles(c, [admin])).get(admin)
                         if admin != info["user"] else {"superuser": info["superuser"]})
        except ProviderError as exc:
            pool.close()
            return ConfigureResponse((Diagnostic.error(exc.reason),))
        except psycopg.Error as exc:
            pool.close()
            err = translate(exc, op="connect", scrub=self.scrub)
            return ConfigureResponse((Diagnostic.error(f"{settings.source}: {err.reason}"),))
        if admin_row is None:
            pool.close()
            return ConfigureResponse((Diagnostic.error(
                f"providers.postgres.adminRole: role {admin!r} does not exist"),))
        diags: list[Diagnostic] = []
        if not info["superuser"] and not (info["createrole"] and info["createdb"]):
            diags.append(Diagnostic.warning(
                f"the admin role {info['user']!r} is neither a superuser nor has CREATEROLE and "
                "CREATEDB; creating tenant roles and databases will be refused"))
        self._settings = settings
        self._pool = pool
        self._params = params
        self._version = info["version"]
        self._ops = Ops(pool=pool, scrub=self.scrub, admin=admin,
                        admin_is_superuser=bool(admin_row["superuser"]),
                        server_version=info["version"])
        self._reader = Reader(pool, scrub=self.scrub, workers=settings.pool_size)
        return ConfigureResponse(tuple(diags))

    def _need(self) -> tuple[Ops, Reader]:
        if self._ops is None or self._reader is None:
            raise ProviderNotConfigured("provider postgres is not configured")
        return self._ops, self._reader

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    # --- validate ----------------------------------------------------------------------------

    def validate(self, req: ValidateRequest) -> ValidateResponse:
        diags: list[Diagnostic] = []
        for r in req.resources:
            for problem in resource_problems(r.type, r.attributes, self._version):
                field, _, message = problem.partition(": ")
                diags.append(Diagnostic.error(message, address=r.address, field=field))
        return ValidateResponse(tuple(diags))

    # --- read / plan -------------------------------------------------------------------------

    def _shape(self, rtype: str, attrs: Mapping[str, Any],
               live: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return objects.desired_shape(rtype, attrs, server_version=self._version, live=live)

    def read(self, req: ReadRequest) -> ReadResponse:
        _, reader = self._need()
        wanted: dict[str, Wanted] = {}
        for addr, rtype, attrs in [*((r.address, r.type, r.attributes) for r in req.desired),
                                   *((s.address, s.type, s.attributes) for s in req.prior)]:
            if addr in wanted or resource_problems(rtype, attrs, self._version):
                continue        # a name Postgres could not hold cannot exist: read as absent
            self.scrub.add(attrs.get("password"))
            try:
                wanted[addr] = Wanted(addr, rtype, self._shape(rtype, attrs))
            except KeyError as exc:
                raise ProviderError(f"read: the recorded attributes have no {exc.args[0]!r}",
                                    address=addr) from None
        observed, diags, queries = reader.observe(wanted.values())
        found = self._owners(wanted[a] for a in observed)
        ids = req.addresses()
        return ReadResponse(
            live={a: LiveObject(addr=ids[a], observed=o,
                                owner=found.get((wanted[a].type, wanted[a].shape.get("name"))))
                  for a, o in observed.items()},
            diagnostics=tuple(diags), requests=queries)

    def _owners(self, present) -> dict:
        """(type, name) -> owner mark of the roles and databases among `present`: one query."""
        by_type: dict[str, set[str]] = {t: set() for t in marks.MARKED}
        for w in present:
            if w.type in by_type and w.shape.get("name"):
                by_type[w.type].add(w.shape["name"])
        if not any(by_type.values()):
            return {}
        assert self._pool is not None
        pool = self._pool
        try:
            return pool.run(pool.admin_db, lambda c: marks.owners(c, by_type["role"],
                                                                  by_type["database"]))
        except psycopg.Error as exc:
            raise translate(exc, op="read owner marks", scrub=self.scrub) from None

    def _mark(self, d) -> None:
        # a role's mark is written inside the role's own transaction (apply_role)
        if self.owner is None or d.type not in marks.MARKED or d.type == "role":
            return
        pool, stmt = self._pool, marks.comment(d.type, d.attributes["name"], self.owner)
        assert pool is not None
        try:
            pool.run(pool.admin_db, lambda c: c.execute(stmt))
        except psycopg.Error as exc:
            raise translate(exc, op=f"COMMENT ON {d.type.upper()}", scrub=self.scrub) from None

    def plan(self, req: PlanRequest) -> PlanResponse:
        d = req.desired
        problems = resource_problems(d.type, d.attributes, self._version)
        if problems:
            # validate() already reported these, and the plan cannot be applied with them
            planned = {k: v for k, v in d.attributes.items() if k != "password"}
            return PlanResponse(planned=planned, diagnostics=tuple(
                Diagnostic.error(p.partition(": ")[2], address=d.address,
                                 field=p.partition(": ")[0]) for p in problems))
        live = req.live.observed if req.live is not None else None
        return PlanResponse(planned=self._shape(d.type, d.attributes, live))

    # --- apply / delete ----------------------------------------------------------------------

    def apply(self, req: ApplyRequest) -> ApplyResponse:
        with _addressed(req.desired.address, "apply"):
            return self._apply(req)

    def _apply(self, req: ApplyRequest) -> ApplyResponse:
        ops, reader = self._need()
        d = req.desired
        problems = resource_problems(d.type, d.attributes, self._version)
        if problems:
            raise Invalid(problems[0], address=d.address)
        attrs = d.attributes
        self.scrub.add(attrs.get("password"))
        prior_attrs = req.prior.attributes if req.prior is not None else None
        if self.check_on_write:
            self._check_owner(d.type, attrs, req.prior,
                              "change" if req.prior is not None else "create over")
        if req.progress:
            req.progress(d.address, f"applying {d.type} {attrs.get('name') or ''}".rstrip())
        if d.type == "role":
            ops.apply_role(attrs, prior_attrs=prior_attrs, replace=req.replace,
                           mark=None if self.owner is None else
                           marks.comment("role", attrs["name"], self.owner))
        elif d.type == "database":
            ops.apply_database(attrs, adopt=req.prior is None)
        elif d.type == "schema":
            ops.apply_schema(attrs)
        elif d.type == "grant":
            shape = self._shape("grant", attrs)
            ops.set_grant(shape, shape["privileges"])
        elif d.type == "extension":
            ops.apply_extension(attrs)
        self._mark(d)
        observed, _, _ = reader.observe([Wanted(d.address, d.type, self._shape(d.type, attrs))])
        if d.address not in observed:
            raise ProviderError(f"apply: the {d.type} is not in the catalog after it was applied",
                                address=d.address)
        return ApplyResponse(state=ResourceState(
            addr=d.addr, attributes=dict(attrs), observed=observed[d.address], sensitive=tuple(d.sensitive),
            depends_on=tuple(d.depends_on)))

    def delete(self, req: DeleteRequest) -> DeleteResponse:
        with _addressed(req.prior.address, "delete"):
            return self._delete(req)

    def _delete(self, req: DeleteRequest) -> DeleteResponse:
        ops, _ = self._need()
        p = req.prior
        if resource_problems(p.type, p.attributes, self._version):
            return DeleteResponse()          # it could never have been created
        attrs = p.attributes
        if self.check_on_write:
            self._check_owner(p.type, attrs, p, "delete")
        if req.progress:
            req.progress(p.address, f"deleting {p.type} {attrs.get('name') or ''}".rstrip())
        if p.type == "role":
            ops.delete_role(attrs["name"])
        elif p.type == "database":
            ops.delete_database(attrs["name"])
        elif p.type == "schema":
            ops.delete_schema(attrs)
        elif p.type == "grant":
            ops.delete_grant(self._shape("grant", attrs))
        elif p.type == "extension":
            ops.delete_extension(attrs)
        return DeleteResponse()

    def _check_owner(self, rtype: str, attrs: Mapping[str, Any], prior: ResourceState | None,
                     verb: str) -> None:
        """apply/destroy --no-refresh: the mark of the role or database read just before the
        write, refused as the plan would (ecpctl.kernel.owner_check). A schema, grant or
        extension is checked by its database's mark, which it is owned through, so a destroy
        refused at the database has not emptied it first."""
        if rtype in marks.MARKED:
            kind, name, what = rtype, str(attrs["name"]), f"{rtype} {attrs['name']}"
        else:
            kind, name = "database", str(attrs.get("database") or "")
            what = (f"{rtype} {attrs.get('name') or attrs.get('role') or ''} in database "
                    f"{name}").replace("  ", " ")
        if not name:
            return
        assert self._pool is not None
        pool = self._pool
        try:
            exists, theirs = pool.run(pool.admin_db, lambda c: marks.owner_now(c, kind, name))
        except psycopg.Error as exc:
            raise translate(exc, op="read owner mark", scrub=self.scrub) from None
        if not exists:
            return
        own = kind == rtype
        # inside a database only another owner's mark refuses (the plan checks no schema, grant
        # or extension of an unmarked database either)
        refuse_write(verb, what, self.owner, theirs, recorded=prior is not None or not own,
                     imported=own and prior is not None
                     and bool((prior.private or {}).get("adopted")))

    def import_resource(self, req: ImportRequest) -> ImportResponse:
        """ID is the object's name; where the object lives (database, schema) and, for grants,
        what they are on, come from the resource the spec declares at ADDRESS."""
        _, reader = self._need()
        if req.type not in objects.TYPES:
            raise Invalid(f"cannot import a {req.type}", address=req.address)
        base = dict(req.desired.attributes) if req.desired is not None else {}
        if req.type != "grant":
            base["name"] = req.id
        problems = resource_problems(req.type, base, self._version)
        if problems:
            raise Invalid(f"import: {problems[0]}", address=req.address)
        observed, _, _ = reader.observe([Wanted(req.address, req.type, self._shape(req.type, base))])
        obs = observed.get(req.address)
        if obs is None:
            return ImportResponse(state=None)
        attrs = dict(obs)
        if req.type == "role" and req.desired is not None and "password" in req.desired.attributes:
            attrs["password"] = None         # unknown: the next apply sets the spec's password
        sensitive = tuple(req.desired.sensitive) if req.desired is not None else ()
        depends = tuple(req.desired.depends_on) if req.desired is not None else ()
        return ImportResponse(state=ResourceState(
            addr=req.addr, attributes=attrs, observed=obs, sensitive=sensitive,
            depends_on=depends, private={"adopted": True}))


@contextmanager
def _addressed(address: str, operation: str) -> Iterator[None]:
    """Errors leave apply/delete naming the operation and the resource, so retries and failures
    say which one."""
    try:
        yield
    except ProviderError as exc:
        raise exc.located(address, operation)  # noqa: B904 - located() chains the cause


def resource_problems(rtype: str, attrs: Mapping[str, Any], server_version: int = 170000
                      ) -> list[str]:
    """Every reason the resource cannot be applied, each `field: message` on one line."""
    if rtype not in objects.TYPES:
        return [f"type: unknown postgres resource type {rtype!r} (known: {', '.join(objects.TYPES)})"]
    out = [str(p) for p in names.identifier_problems(rtype, attrs)]
    if rtype == "role":
        if attrs.get("name") in ("public", "none"):
            out.append(f"name: role name {attrs['name']!r} is reserved by Postgres")
        pw = attrs.get("password")
        if pw is not None and (not isinstance(pw, str) or "\x00" in pw):
            out.append("password: must be a string without NUL bytes")
    if rtype in ("role", "database"):
        limit = attrs.get("connection_limit", -1)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < -1:
            out.append(f"connection_limit: must be a whole number >= -1, not {limit!r}")
    if rtype == "grant":
        kind = attrs.get("object_type")
        if kind not in privs.OBJECT_TYPES:
            out.append(f"object_type: {kind!r} is not one of {', '.join(privs.OBJECT_TYPES)}")
            return out
        if kind in privs.SCHEMA_SCOPED and attrs.get("schema") is None:
            out.append(f"schema: a grant on {kind.replace('_', ' ')}s needs the schema")
        if kind in privs.DEFAULT_TYPES and attrs.get("for_role") is None:
            out.append("for_role: default privileges need the role whose future objects they cover")
        try:
            privs.normalize(kind, attrs.get("privileges") or (), server_version)
        except privs.UnknownPrivilege as exc:
            out.append(f"privileges: {exc}")
    if rtype == "database":
        for key in ("encoding", "locale"):
            value = attrs.get(key)
            if value is not None and (not isinstance(value, str) or "\x00" in value or not value):
                out.append(f"{key}: must be a non-empty string")
    if rtype == "role":
        for key in (attrs.get("config") or {}):
            try:
                names.check_identifier(key, "config", what="setting name")
            except names.InvalidIdentifier as exc:
                out.append(str(exc))
    return out
