"""Encryption at rest on the Postgres state backend: every test of tests/unit/test_state_crypto.py
(sealed rows, history and pulls, missing, wrong and tampered keys, values copied between resources,
state mv and push, rekey with its lock and its corrupt versions, the earlier Fernet format) run
again against a real Postgres 15 database (the unit run covers SQLite)."""

from __future__ import annotations

import pytest

from tests.unit.test_state_crypto import *  # noqa: F401,F403

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def state_url(postgres_state_url):   # noqa: F811 - overrides the SQLite fixture of the unit tests
    return postgres_state_url
