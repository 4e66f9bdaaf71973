"""Encryption at rest on the Postgres state backend: every test of tests/unit/test_state_crypto.py
(sealed rows, history and pulls, missing, wrong and tampered keys, values copied between resources,
state mv and push, rekey with its lock and its corrupt versions, the earlier Fernet format) run
again against a real Postgres 15 database (the unit run covers SQLite); and every test of
tests/unit/test_saved_plan_keys.py (saved plans made without a state key, their keys kept in the
state database) through the CLI with the fake provider, on a Postgres state."""

from __future__ import annotations

import uuid

import pytest

from state.keys import KEY_ENV
from tests.unit.conftest import ecpctl, spec_dir  # noqa: F401 - the CLI fixtures of the unit tests
from tests.unit.test_saved_plan_keys import *  # noqa: F401,F403
from tests.unit.test_saved_plan_keys import URL_ENV, States
from tests.unit.test_state_crypto import *  # noqa: F401,F403

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def state_url(postgres_state_url):   # noqa: F811 - overrides the SQLite fixture of the unit tests
    return postgres_state_url


@pytest.fixture
def states(postgres_server, postgres_state_url):   # noqa: F811 - the unit tests' SQLite states
    """Plans are made against one Postgres database; another one is another state."""
    name = f"state_{uuid.uuid4().hex[:12]}"
    other = postgres_server.create_database(name)
    yield States(env={KEY_ENV: None, URL_ENV: postgres_state_url}, url=postgres_state_url,
                 other={KEY_ENV: None, URL_ENV: other})
    if postgres_server.running:
        postgres_server.drop_database(name)
