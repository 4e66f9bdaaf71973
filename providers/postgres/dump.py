"""pg_dump and pg_restore of one database through the provider's connection settings (the admin
DSN from the Project's environment variable or file), for `ecpctl db backup` and `ecpctl db restore`.

Archives are pg_dump's custom format (compressed, and listable, so a restore can say what it will
replace), the same format the backup CronJob writes. The password travels in PGPASSWORD, never on
a command line, and every message is scrubbed of it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Mapping

import psycopg
from psycopg import conninfo as pg_conninfo

from ecpctl.kernel import ProviderError
from providers.postgres.connection import (
    APPLICATION_NAME, CONNECT_TIMEOUT, Scrubber, Settings, connect_error, load_dsn, one_line,
    parse_dsn, translate,
)

MAGIC = b"PGDMP"
GZIP_MAGIC = b"\x1f\x8b"
TOOL_TIMEOUT = 6 * 3600.0
# TOC descriptions of several words, longest first, so "TABLE DATA" is never read as "TABLE"
_DESCS = ("MATERIALIZED VIEW DATA", "MATERIALIZED VIEW", "SEQUENCE OWNED BY", "SEQUENCE SET",
          "TABLE DATA", "DEFAULT ACL", "FK CONSTRAINT", "TEXT SEARCH CONFIGURATION",
          "TEXT SEARCH DICTIONARY", "FOREIGN TABLE", "POLICY", "ROW SECURITY")
RELATIONS = {"TABLE": "table", "VIEW": "view", "MATERIALIZED VIEW": "materialized view",
             "SEQUENCE": "sequence", "FOREIGN TABLE": "foreign table"}
_TOC_LINE = re.compile(r"^(\d+); (\d+) (\d+) (.*)$")

EXISTING = """
SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                      WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
                      ELSE 'foreign table' END, n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT c.relispartition
  -- members of extensions come back with the extension; sequences of serial columns with their table
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
ORDER BY 2, 3
"""


@dataclass(frozen=True)
class TocEntry:
    dump_id: int
    desc: str
    schema: str | None
    name: str
    line: str


@dataclass(frozen=True)
class DbObject:
    kind: str
    schema: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.schema}.{self.name}"


@dataclass(frozen=True)
class RestorePreview:
    """What a restore of an archive into a database would do to what is there."""

    database: str
    in_archive: tuple[DbObject, ...]
    replaced: tuple[DbObject, ...]       # exist now and in the archive: dropped and restored
    kept: tuple[DbObject, ...]           # exist now, not in the archive: left as they are

    @property
    def empty(self) -> bool:
        return not self.replaced and not self.kept


class Connection:
    """The admin connection settings, pointed at one database."""

    def __init__(self, settings: Mapping[str, Any], environ: Mapping[str, str] | None = None):
        self.settings = Settings.from_mapping(settings or {})
        self.scrub = Scrubber()
        dsn = load_dsn(self.settings, environ)
        self.scrub.add(dsn)
        self.params = parse_dsn(dsn, self.settings)
        self.scrub.add(self.params.get("password"))

    def conninfo(self, dbname: str) -> str:
        """A connection string without the password (safe on a command line)."""
        params = {k: v for k, v in self.params.items() if k != "password"}
        params["dbname"] = dbname
        params.setdefault("application_name", APPLICATION_NAME)
        params.setdefault("connect_timeout", CONNECT_TIMEOUT)
        return pg_conninfo.make_conninfo(**params)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PGPASSWORD", None)
        if self.params.get("password"):
            env["PGPASSWORD"] = self.params["password"]
        return env

    def connect(self, dbname: str) -> psycopg.Connection:
        try:
            conn = psycopg.connect(self.conninfo(dbname), password=self.params.get("password"),
                                   autocommit=True)
        except psycopg.Error as exc:
            raise connect_error(exc, self.settings, self.scrub, dbname,
                                self.params.get("dbname") or "postgres") from None
        return conn

    def existing(self, dbname: str) -> tuple[DbObject, ...]:
        with self.connect(dbname) as conn:
            try:
                rows = conn.execute(EXISTING).fetchall()
            except psycopg.Error as exc:
                raise translate(exc, op=f"list the objects of database {dbname!r}",
                                scrub=self.scrub) from None
        return tuple(DbObject(*row) for row in rows)

    def schemas_and_extensions(self, dbname: str) -> tuple[set[str], set[str]]:
        with self.connect(dbname) as conn:
            schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
            exts = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
        return schemas, exts


def tool(name: str) -> str:
    """pg_dump or pg_restore: on PATH, else the newest Debian-style install (a client at least as
    new as the server is needed; pg_dump refuses a newer server and says so)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if candidates:
        return str(candidates[-1])
    raise ProviderError(f"{name} not found: install the Postgres client tools "
                        "(Debian: postgresql-client) or put them on PATH")


def _run(conn: Connection, args: list[str], op: str) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(args, env=conn.env(), capture_output=True, text=True,
                              timeout=TOOL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ProviderError(f"{op}: timed out after {TOOL_TIMEOUT:g}s") from None
    except OSError as exc:
        raise ProviderError(f"{op}: cannot run {args[0]}: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        errors = [ln for ln in proc.stderr.splitlines() if "error:" in ln.lower()] or \
            [ln for ln in proc.stderr.splitlines() if ln.strip()]
        reason = errors[0] if errors else f"exit code {proc.returncode}"
        reason = re.sub(r"^(pg_dump|pg_restore): (error: )?", "", reason.strip())
        raise ProviderError(conn.scrub(one_line(f"{op}: {reason}")))
    return proc


def dump(conn: Connection, dbname: str, out: Path) -> int:
    """Writes the archive of `dbname` to `out` (through a temporary file beside it, so that a
    failed dump never leaves a file that looks good); returns its size in bytes."""
    out = Path(out)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    except OSError as exc:
        raise ProviderError(f"cannot write {out}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        _run(conn, [tool("pg_dump"), "--format=custom", "--compress=6", "--no-password",
                    f"--file={tmp}", f"--dbname={conn.conninfo(dbname)}"],
             f"pg_dump of database {dbname!r}")
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out.stat().st_size


def summary(objs) -> str:
    """`1 table, 2 views` (nothing: `no tables`)."""
    counts: dict[str, int] = {}
    for o in objs:
        counts[o.kind] = counts.get(o.kind, 0) + 1
    if not counts:
        return "no tables"
    return ", ".join(f"{n} {k}{'' if n == 1 else 's'}" for k, n in counts.items())


def check_archive(path: Path) -> None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(5)
    except OSError as exc:
        raise ProviderError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head.startswith(GZIP_MAGIC):
        raise ProviderError(f"{path} is gzip-compressed (a plain SQL dump?); ecpctl restores "
                            "pg_dump's custom format, as `ecpctl db backup` and the backup "
                            "CronJob write it (for plain SQL use psql)")
    if head != MAGIC:
        raise ProviderError(f"{path} is not a pg_dump custom-format archive")


def _parse_rest(rest: str) -> tuple[str, str | None, str]:
    desc = next((d for d in _DESCS if rest.startswith(d + " ")), rest.split(" ", 1)[0])
    parts = rest[len(desc):].strip().split(" ")
    schema = None if not parts or parts[0] == "-" else parts[0]
    name = parts[1] if len(parts) > 1 else ""
    return desc, schema, name


def contents(conn: Connection, path: Path) -> list[TocEntry]:
    proc = _run(conn, [tool("pg_restore"), "--list", str(path)], f"read {path}")
    out = []
    for line in proc.stdout.splitlines():
        m = _TOC_LINE.match(line)
        if not m:
            continue
        desc, schema, name = _parse_rest(m.group(4))
        out.append(TocEntry(int(m.group(1)), desc, schema, name, line))
    return out


def objects_in(entries: list[TocEntry]) -> tuple[DbObject, ...]:
    """The tables, views and sequences an archive holds."""
    # a serial column's sequence comes and goes with its table: not an object of its own
    owned = {(e.schema, e.name) for e in entries if e.desc == "SEQUENCE OWNED BY"}
    return tuple(DbObject(RELATIONS[e.desc], e.schema or "", e.name) for e in entries
                 if e.desc in RELATIONS
                 and not (e.desc == "SEQUENCE" and (e.schema, e.name) in owned))


def preview(conn: Connection, dbname: str, entries: list[TocEntry]) -> RestorePreview:
    in_archive = objects_in(entries)
    keys = {(o.schema, o.name) for o in in_archive}
    existing = conn.existing(dbname)
    return RestorePreview(
        database=dbname, in_archive=in_archive,
        replaced=tuple(o for o in existing if (o.schema, o.name) in keys),
        kept=tuple(o for o in existing if (o.schema, o.name) not in keys))


def restore(conn: Connection, dbname: str, path: Path, entries: list[TocEntry]) -> None:
    """Restores the archive into `dbname` in one transaction: objects of the archive that exist are
    dropped first; schemas and extensions that exist (ecpctl made them, with their grants) are
    left alone. Any error rolls the whole restore back."""
    schemas, exts = conn.schemas_and_extensions(dbname)
    keep = []
    for e in entries:
        if e.desc == "SCHEMA" and e.name in schemas:
            continue
        if e.desc == "EXTENSION" and e.name in exts:
            continue
        if e.desc == "COMMENT" and e.schema is None and e.line.split(" COMMENT - ", 1)[-1].startswith(
                ("EXTENSION ", "SCHEMA ")):
            continue
        keep.append(e.line)
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as fh:
        fh.write("\n".join(keep) + "\n")
        listing = fh.name
    try:
        _run(conn, [tool("pg_restore"), "--no-password", "--single-transaction", "--exit-on-error",
                    "--clean", "--if-exists", f"--use-list={listing}",
                    f"--dbname={conn.conninfo(dbname)}", str(path)],
             f"pg_restore into database {dbname!r}")
    finally:
        os.unlink(listing)
