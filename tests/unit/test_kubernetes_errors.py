"""Connection settings, API errors -> ProviderError, conflicts in words, secret scrubbing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from providers.kubernetes.client import (KubeError, NotConfigured, _status_error, resolve_connection,
                                         scrub, to_provider_error)
from providers.kubernetes.ssa import Conflict, conflicts_of, describe_conflicts, replicas_patch

# the body of a real 409 from `kubectl scale` + `kubectl patch` against ecpctl's Deployment
CONFLICT_BODY = {
    "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409,
    "message": "Apply failed with 2 conflicts: ...",
    "details": {"causes": [
        {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-patch\" using apps/v1",
         "field": ".spec.template.spec.containers[name=\"web\"].image"},
        {"reason": "FieldManagerConflict",
         "message": "conflict with \"kubectl\" with subresource \"scale\" using apps/v1",
         "field": ".spec.replicas"},
        {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-patch\" using apps/v1",
         "field": ".metadata.labels.a.b/c"},
    ]},
}


def _err(status: int, body: dict | None = None, headers: dict | None = None) -> KubeError:
    return _status_error(status, json.dumps(body or {}).encode(), headers or {}, "PATCH", "/x")


def test_conflicts_are_parsed_and_described_per_manager():
    err = _err(409, CONFLICT_BODY)
    assert err.conflict
    cs = conflicts_of(err)
    assert cs == [Conflict("kubectl-patch", "", ".spec.template.spec.containers[name=\"web\"].image"),
                  Conflict("kubectl", "scale", ".spec.replicas"),
                  Conflict("kubectl-patch", "", ".metadata.labels.a.b/c")]
    assert describe_conflicts(cs) == (
        'conflict: field manager "kubectl-patch" owns spec.template.spec.containers[name="web"].image, '
        'metadata.labels.a.b/c; field manager "kubectl" (via /scale) owns spec.replicas '
        "(apply with --force-conflicts to take ownership)")


def test_a_409_that_is_not_a_field_conflict():
    err = _err(409, {"reason": "AlreadyExists", "message": "x already exists", "code": 409})
    assert not err.conflict


@pytest.mark.parametrize("status,retryable,fragment", [
    (401, False, "rejected the credentials (401 Unauthorized)"),
    (403, False, "forbidden (403): deployments.apps is forbidden"),
    (404, False, "NotFound: not there"),
    (422, False, "Invalid: bad value"),
    (429, True, "API server busy (429 TooManyRequests)"),
    (500, True, "API server busy (500 InternalError)"),
    (503, True, "API server busy (503 ServiceUnavailable)"),
])
def test_status_codes_become_provider_errors(status, retryable, fragment):
    messages = {403: "deployments.apps is forbidden: User \"u\" cannot list", 404: "not there",
                422: "bad value"}
    body = {"message": messages.get(status, "boom")}
    if status in (401, 403, 404, 422):
        body["reason"] = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 422: "Invalid"}[status]
    err = _err(status, body)
    pe = to_provider_error(err, "list", "deployments.apps")
    assert pe.retryable is retryable
    assert fragment in pe.reason
    assert pe.reason.startswith("list deployments.apps: ")


def test_retry_after_is_taken_from_the_header_or_the_details():
    assert _err(429, {"message": "slow down"}, {"Retry-After": "3"}).retry_after == 3.0
    assert _err(429, {"message": "x", "details": {"retryAfterSeconds": 2}}).retry_after == 2.0
    pe = to_provider_error(_err(429, {"message": "x"}, {"Retry-After": "7"}), "apply", "ConfigMap a/b")
    assert pe.retry_after == 7.0 and pe.retryable


def test_connection_failures_are_retryable_and_name_the_server():
    err = KubeError(0, "ConnectionFailed", "connection refused", "GET", "/api")
    pe = to_provider_error(err, "list", "objects", server="https://127.0.0.1:6443")
    assert pe.retryable
    assert pe.reason == "list objects: cannot reach the API server at https://127.0.0.1:6443: connection refused"


def test_non_json_error_bodies():
    err = _status_error(502, b"<html>bad gateway</html>", {}, "GET", "/api")
    assert err.status == 502 and err.retryable and "bad gateway" in err.message


def test_secret_values_are_scrubbed_in_every_form():
    import base64
    raw = "hunter2-very-secret"
    b64 = base64.b64encode(raw.encode()).decode()
    text = f'Secret "db" is invalid: data: "{raw}" and "{b64}"'
    out = scrub(text, [b64])
    assert raw not in out and b64 not in out
    assert out.count("(sensitive value)") == 2
    assert scrub("abc", ["ab"]) == "abc"          # too short to be a secret worth scrubbing


def test_connection_settings_precedence(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(NotConfigured, match="no kubeconfig found: set spec.providers.kubernetes.kubeconfig"):
        resolve_connection({}, {})

    c = resolve_connection({"kubeconfig": "/p", "context": "pc"}, {"kubeconfig": "/flag"})
    assert (c.kubeconfig, c.context, c.in_cluster) == ("/flag", "pc", False)
    c = resolve_connection({"kubeconfig": "/p", "context": "pc"}, {"context": "fc"})
    assert (c.kubeconfig, c.context) == ("/p", "fc")
    assert resolve_connection({"inCluster": True}, {}).in_cluster
    assert not resolve_connection({"inCluster": True}, {"kubeconfig": "/f"}).in_cluster

    monkeypatch.setenv("KUBECONFIG", "/env")
    assert resolve_connection({}, {}).kubeconfig == "/env"

    monkeypatch.delenv("KUBECONFIG")
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("{}")
    assert resolve_connection({}, {}).kubeconfig == str(tmp_path / ".kube" / "config")

    (tmp_path / ".kube" / "config").unlink()
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert resolve_connection({}, {}).in_cluster


def test_replicas_patch_is_a_minimal_apply_configuration():
    dep = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "a", "namespace": "n", "labels": {"x": "y"}}, "spec": {"replicas": 2}}
    assert replicas_patch(dep, 5) == {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "metadata": {"name": "a", "namespace": "n"},
                                      "spec": {"replicas": 5}}


def test_in_cluster_outside_a_pod_says_so(monkeypatch):
    from providers.kubernetes import KubernetesProvider
    from providers.protocol import ConfigureRequest
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    resp = KubernetesProvider().configure(ConfigureRequest(settings={"inCluster": True}, options={}))
    assert resp.diagnostics[0].one_line().startswith("cannot use in-cluster service account: ")
    assert "works only inside a pod" in resp.diagnostics[0].one_line()
