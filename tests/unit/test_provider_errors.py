"""Each provider's one edge: its client library's errors become the kernel's typed errors (the most
specific class wins, retryable or permanent by type, the cause chained), and the messages nest the
operation and the address."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest

from ecpctl.kernel import (Conflict, Forbidden, InUse, Invalid, NotFound, ProviderError,
                           ServerError, Throttled, Timeout, Unreachable)
from providers.alertmanager import server as am_server
from providers.grafana import client as grafana_client
from providers.kubernetes.client import KubeError, _status_error, error_class, to_provider_error
from providers.postgres.connection import DatabaseMissing, Scrubber, Settings, connect_error, translate

RETRYABLE = (Throttled, Unreachable, Timeout, ServerError, InUse)
PERMANENT = (NotFound, Conflict, Forbidden, Invalid)


def test_retryable_or_permanent_is_decided_by_type_alone():
    for cls in RETRYABLE:
        assert cls("x").retryable
    for cls in PERMANENT:
        assert not cls("x").retryable
    with pytest.raises(TypeError):
        ProviderError("x", retryable=True)      # the transitional keyword is gone


def test_messages_nest_operation_and_address_and_keep_type_and_cause():
    inner = Forbidden("ALTER ROLE: permission denied")
    try:
        try:
            raise inner
        except ProviderError as exc:
            raise exc.located("tenant.acme.postgres.role.acme_app", "apply")  # noqa: B904
    except ProviderError as outer:
        assert str(outer) == "apply tenant.acme.postgres.role.acme_app: ALTER ROLE: permission denied"
        assert type(outer) is Forbidden and outer.reason == "ALTER ROLE: permission denied"
        assert outer.__cause__ is inner
    # an address already named is never repeated; a missing operation is filled in
    named = ServerError("boom", address="tenant.a.x.y.z", retry_after=2.0)
    again = named.located("tenant.a.x.y.z", "delete")
    assert str(again) == "delete tenant.a.x.y.z: boom" and again.retry_after == 2.0
    assert again.located("other", "apply") is again


# --- kubernetes ------------------------------------------------------------------------------

def _kube(status: int, body: dict | None = None, headers: dict | None = None) -> KubeError:
    return _status_error(status, json.dumps(body or {}).encode(), headers or {}, "PATCH", "/x")


@pytest.mark.parametrize("status,cls", [
    (400, Invalid), (401, Forbidden), (403, Forbidden), (404, NotFound), (409, Conflict),
    (410, NotFound), (422, Invalid), (429, Throttled), (500, ServerError), (502, ServerError),
    (503, ServerError), (504, Timeout),
])
def test_kubernetes_statuses_become_typed_errors(status, cls):
    pe = to_provider_error(_kube(status, {"message": "m"}, {"Retry-After": "2"}), "apply",
                           "ConfigMap a/b")
    assert type(pe) is cls and pe.retryable is (cls in RETRYABLE)
    assert pe.reason.startswith("apply ConfigMap a/b: ")
    if cls in RETRYABLE:
        assert pe.retry_after == 2.0


def test_kubernetes_transport_failures_are_unreachable_or_timeout():
    refused = KubeError(0, "ConnectionFailed", "connection refused", "GET", "/api")
    slow = KubeError(0, "ConnectionFailed", "timed out", "GET", "/api")
    assert error_class(refused) is Unreachable and error_class(slow) is Timeout


def test_kubernetes_provider_chains_the_api_error():
    from providers.kubernetes import KubernetesProvider

    class Client:
        server = "https://127.0.0.1:1"

    class Discovery:
        def info(self, api_version, kind):
            raise KubeError(403, "Forbidden", "no", "GET", "/apis")

    p = KubernetesProvider()
    p._client, p._discovery = Client(), Discovery()
    with pytest.raises(Forbidden) as info:
        p._info("apps/v1.Deployment")
    assert isinstance(info.value.__cause__, KubeError) and info.value.__cause__.status == 403


# --- postgres --------------------------------------------------------------------------------

@pytest.mark.parametrize("error,cls", [
    (psycopg.errors.InsufficientPrivilege, Forbidden),
    (psycopg.errors.InvalidPassword, Forbidden),
    (psycopg.errors.InvalidCatalogName, NotFound),
    (psycopg.errors.UndefinedObject, NotFound),
    (psycopg.errors.InvalidSchemaName, NotFound),
    (psycopg.errors.DuplicateObject, Conflict),
    (psycopg.errors.DuplicateDatabase, Conflict),
    (psycopg.errors.DependentObjectsStillExist, Conflict),
    (psycopg.errors.UniqueViolation, Conflict),
    (psycopg.errors.SyntaxError, Invalid),
    (psycopg.errors.InvalidParameterValue, Invalid),
    (psycopg.errors.FeatureNotSupported, Invalid),
    (psycopg.errors.SerializationFailure, ServerError),
    (psycopg.errors.DeadlockDetected, ServerError),
    (psycopg.errors.TooManyConnections, Throttled),
    (psycopg.errors.DiskFull, ServerError),
    (psycopg.errors.LockNotAvailable, Timeout),
    (psycopg.errors.QueryCanceled, Timeout),
    (psycopg.errors.ObjectInUse, InUse),
    (psycopg.errors.AdminShutdown, Unreachable),
    (psycopg.errors.CannotConnectNow, Unreachable),
    (psycopg.errors.ConnectionFailure, Unreachable),
])
def test_postgres_sqlstates_become_typed_errors(error, cls):
    pe = translate(error("x"), op="GRANT", scrub=Scrubber())
    assert type(pe) is cls and pe.retryable is (cls in RETRYABLE)
    assert pe.reason.startswith("GRANT: x")


def test_postgres_client_side_failures():
    s = Scrubber()
    assert type(translate(psycopg.OperationalError("server closed the connection"), op="q",
                          scrub=s)) is Unreachable
    assert type(translate(psycopg.errors.InternalError_("tuple concurrently updated"), op="q",
                          scrub=s)) is ServerError


@pytest.mark.parametrize("text,cls", [
    ('password authentication failed for user "x"', Forbidden),
    ("connection refused", Unreachable),
    ("timeout expired", Timeout),
    ('role "nobody" does not exist', NotFound),
])
def test_postgres_connect_failures(text, cls):
    err = connect_error(psycopg.OperationalError(text), Settings(), Scrubber(), "postgres", "postgres")
    assert type(err) is cls and "ECPCTL_POSTGRES_DSN" in err.reason
    missing = connect_error(psycopg.OperationalError('database "t1" does not exist'), Settings(),
                            Scrubber(), "t1", "postgres")
    assert isinstance(missing, DatabaseMissing) and isinstance(missing, NotFound)


def test_postgres_operations_chain_the_psycopg_error():
    from providers.postgres.operations import Ops

    class Pool:
        admin_db = "postgres"

        def run(self, dbname, fn):
            raise psycopg.errors.InsufficientPrivilege("permission denied to create role")

    ops = Ops(pool=Pool(), scrub=Scrubber(), admin="admin", admin_is_superuser=False,
              server_version=150000)
    with pytest.raises(Forbidden) as info:
        ops._run("postgres", lambda step, conn: None)
    assert isinstance(info.value.__cause__, psycopg.errors.InsufficientPrivilege)


# --- grafana (httpx) ---------------------------------------------------------------------------

def _grafana(handler) -> grafana_client.GrafanaClient:
    c = grafana_client.GrafanaClient("http://grafana.invalid", "glsa_token_value", token_env="T")
    c._http = httpx.Client(base_url=c.url, transport=httpx.MockTransport(handler))
    return c


@pytest.mark.parametrize("status,cls", [
    (400, Invalid), (401, Forbidden), (403, Forbidden), (404, grafana_client.NotFound),
    (409, grafana_client.Conflict), (412, grafana_client.Conflict), (422, Invalid),
    (429, Throttled), (500, ServerError), (503, ServerError), (504, Timeout),
])
def test_grafana_statuses_become_typed_errors(status, cls):
    c = _grafana(lambda req: httpx.Response(status, json={"message": "m"},
                                            headers={"Retry-After": "3"}))
    with pytest.raises(ProviderError) as info:
        c.request("GET", "/api/folders/x")
    assert type(info.value) is cls and info.value.retryable is issubclass(cls, RETRYABLE)
    assert issubclass(grafana_client.NotFound, NotFound) and issubclass(grafana_client.Conflict, Conflict)
    if cls in (Throttled, ServerError, Timeout):
        assert info.value.retry_after == 3.0


@pytest.mark.parametrize("exc,cls", [
    (httpx.ConnectError("refused"), Unreachable),
    (httpx.ReadTimeout("slow"), Timeout),
    (httpx.RemoteProtocolError("closed"), Unreachable),
])
def test_grafana_transport_errors_are_typed_and_chained(exc, cls):
    def handler(req):
        raise exc

    with pytest.raises(ProviderError) as info:
        _grafana(handler).request("GET", "/api/search")
    assert type(info.value) is cls and info.value.__cause__ is exc
    assert "glsa_token_value" not in str(info.value)


# --- alertmanager (httpx, amtool) ----------------------------------------------------------------

def _am(handler) -> am_server.AlertmanagerAPI:
    api = am_server.AlertmanagerAPI("http://am.invalid")
    api._http = httpx.Client(transport=httpx.MockTransport(handler))
    return api


@pytest.mark.parametrize("status,cls", [(503, ServerError), (504, Timeout), (429, Throttled),
                                        (404, NotFound), (400, Invalid)])
def test_alertmanager_statuses_become_typed_errors(status, cls):
    with pytest.raises(ProviderError) as info:
        _am(lambda req: httpx.Response(status, text="no")).running_config()
    assert type(info.value) is cls


def test_alertmanager_unreachable_is_chained():
    err = httpx.ConnectError("refused")

    def handler(req):
        raise err

    with pytest.raises(Unreachable) as info:
        _am(handler).reload()
    assert info.value.__cause__ is err and info.value.retryable


def test_amtool_that_cannot_run_or_hangs(tmp_path: Path, monkeypatch):
    cfg = tmp_path / "am.yml"
    cfg.write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    with pytest.raises(NotFound) as info:
        am_server.check_config(str(tmp_path / "no-amtool"), cfg)
    assert isinstance(info.value.__cause__, FileNotFoundError)
    hang = tmp_path / "amtool"
    hang.write_text(f"#!{sys.executable}\nimport time; time.sleep(30)\n")
    hang.chmod(0o755)
    with pytest.raises(Timeout) as info:
        am_server.check_config(str(hang), cfg, timeout=0.2)
    assert isinstance(info.value.__cause__, subprocess.TimeoutExpired)
