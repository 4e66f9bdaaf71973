"""pytest plugin: a real Postgres 15 server for tests (see tests/testenv/postgres.py).

Fixtures:
    postgres_server       session-scoped PostgresServer on 127.0.0.1 (one per test session)
    postgres_state_url    a fresh database for one test, as a `postgresql://...` URL; dropped after

Missing Postgres binaries are an error that says what to install, never a silent skip; set
ECPCTL_SKIP_POSTGRES=1 to skip the tests that use these fixtures instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from .postgres import PostgresServer, PostgresUnavailable, find_bindir

SKIP_ENV = "ECPCTL_SKIP_POSTGRES"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: tests needing the real Postgres server are disabled")
    try:
        bindir = find_bindir()
    except PostgresUnavailable as exc:
        pytest.fail(f"{exc}; or set {SKIP_ENV}=1 to skip the tests that need it", pytrace=False)
    with PostgresServer(bindir=bindir) as server:
        yield server


@pytest.fixture
def postgres_state_url(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"state_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(name)
    yield url
    if postgres_server.running:
        postgres_server.drop_database(name)
