"""pytest plugin: monitoring servers and tools for tests (see tests/testenv/alertmanager.py and
tests/fakes/grafana.py).

Fixtures:
    promtool        path of Prometheus' promtool (Debian package `prometheus`)
    amtool          path of amtool (Debian package `prometheus-alertmanager`)
    alertmanager    a fresh, real Alertmanager 0.25 on loopback for one test, loading
                    `alertmanager.config_file` (the base config in tests/testenv/alertmanager.py)
    webhook_sink    a loopback HTTP server recording the webhook payloads it receives
    fake_grafana    a fake Grafana HTTP API for one test (Grafana cannot be installed here);
                    `fake_grafana.url`, `fake_grafana.token` (an Admin token)

Missing binaries are an error that says what to install, never a silent skip; set
ECPCTL_SKIP_MONITORING=1 to skip the tests that need promtool or Alertmanager instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.fakes.grafana import FakeGrafana

from .alertmanager import (ALERTMANAGER, AMTOOL, PROMTOOL, AlertmanagerServer, ToolUnavailable,
                           WebhookSink, find_tool)

SKIP_ENV = "ECPCTL_SKIP_MONITORING"


def _tool(name: str, package: str) -> str:
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: tests needing {name} are disabled")
    try:
        return find_tool(name, package)
    except ToolUnavailable as exc:
        pytest.fail(f"{exc}; or set {SKIP_ENV}=1 to skip the tests that need it", pytrace=False)


@pytest.fixture(scope="session")
def promtool() -> str:
    return _tool(PROMTOOL, "prometheus")


@pytest.fixture(scope="session")
def amtool() -> str:
    return _tool(AMTOOL, "prometheus-alertmanager")


@pytest.fixture
def alertmanager(amtool: str) -> Iterator[AlertmanagerServer]:
    binary = _tool(ALERTMANAGER, "prometheus-alertmanager")
    with AlertmanagerServer(binary=binary) as am:
        yield am


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    try:
        yield sink
    finally:
        sink.close()


@pytest.fixture
def fake_grafana() -> Iterator[FakeGrafana]:
    with FakeGrafana() as g:
        yield g
