"""State URLs: which database a user means, and how to show a URL without its password."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ecpctl.kernel import StateError

URL_SETTINGS = "--state-url, ECPCTL_STATE_URL or the Project's spec.state.url"

_USERINFO_PASSWORD = re.compile(r"(://[^/?#@:]*:)[^/?#]*@")
_QUERY_PASSWORD = re.compile(r"((?:^|[?&])password=)[^&]*", re.IGNORECASE)


def mask(url: str) -> str:
    """`url` with any password replaced by ***, for messages and logs."""
    return _QUERY_PASSWORD.sub(r"\1***", _USERINFO_PASSWORD.sub(r"\1***@", url))


def default_sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir) / 'state.db'}"


def parse(url: str) -> URL:
    """The SQLAlchemy URL to connect with: Postgres URLs use the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StateError(f"state URL {mask(url)} is not a database URL (set by {URL_SETTINGS}); "
                         "use sqlite:///path/state.db or postgresql://user:password@host:5432/db") from exc
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed
    if backend == "sqlite":
        return parsed
    raise StateError(f"state URL {mask(url)}: unsupported database {backend!r} (set by {URL_SETTINGS}); "
                     "ecpctl keeps state in SQLite or Postgres")


def sqlite_path(parsed: URL) -> Path | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    db = parsed.database
    if not db or db == ":memory:" or db.startswith("file::memory:"):
        return None
    return Path(db)
