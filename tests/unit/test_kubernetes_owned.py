"""managedFields -> owned-field projection, on samples captured from a real API server (v1.34)."""

from __future__ import annotations

import copy
import json

import pytest

from providers.kubernetes.owned import (digest, drop_path, has_path, manager_fields, observed,
                                        other_managers, project, resolve, shaped, union)

# A Deployment as the API server returned it after `ecpctl` applied it, `kubectl scale`d it and
# the deployment controller updated its status (fields trimmed to what matters here).
DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {
        "name": "chatbot", "namespace": "ecp-ai-acme", "uid": "0f1c", "resourceVersion": "812",
        "generation": 2, "creationTimestamp": "2026-11-22T01:25:38Z",
        "annotations": {"deployment.kubernetes.io/revision": "1"},
        "labels": {"app.kubernetes.io/managed-by": "ecpctl", "app.kubernetes.io/name": "chatbot",
                   "ecp.ai/tenant": "acme", "team": "voice"},
        "managedFields": [
            {"manager": "ecpctl", "operation": "Apply", "apiVersion": "apps/v1",
             "fieldsType": "FieldsV1", "fieldsV1": {
                 "f:metadata": {"f:labels": {"f:app.kubernetes.io/managed-by": {},
                                             "f:app.kubernetes.io/name": {}, "f:ecp.ai/tenant": {}}},
                 "f:spec": {
                     "f:selector": {},
                     "f:strategy": {"f:rollingUpdate": {"f:maxSurge": {}, "f:maxUnavailable": {}},
                                    "f:type": {}},
                     "f:template": {
                         "f:metadata": {"f:labels": {"f:app.kubernetes.io/name": {}}},
                         "f:spec": {
                             "f:containers": {"k:{\"name\":\"chatbot\"}": {
                                 ".": {},
                                 "f:env": {
                                     "k:{\"name\":\"MAX_SESSIONS\"}": {".": {}, "f:name": {}, "f:value": {}},
                                     "k:{\"name\":\"SERVICE_TYPE\"}": {".": {}, "f:name": {}, "f:value": {}}},
                                 "f:envFrom": {},
                                 "f:image": {},
                                 "f:name": {},
                                 "f:ports": {"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {
                                     ".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {}}},
                                 "f:readinessProbe": {"f:httpGet": {"f:path": {}, "f:port": {}},
                                                      "f:periodSeconds": {}},
                                 "f:resources": {"f:requests": {"f:cpu": {}, "f:memory": {}}}}},
                             "f:serviceAccountName": {},
                             "f:tolerations": {}}}}}},
            {"manager": "kubectl", "operation": "Update", "subresource": "scale", "apiVersion": "apps/v1",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "kubectl-label", "operation": "Update", "apiVersion": "v1",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
             "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {
                 "f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}},
                 "f:status": {"f:availableReplicas": {}, "f:replicas": {}}}},
        ]},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "chatbot", "ecp.ai/tenant": "acme"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "chatbot"}},
            "spec": {
                "containers": [{
                    "env": [{"name": "SERVICE_TYPE", "value": "chatbot"},
                            {"name": "MAX_SESSIONS", "value": "150"}],
                    "envFrom": [{"configMapRef": {"name": "ecp-ai-config"}}],
                    "image": "ecp-ai/chatbot:latest", "imagePullPolicy": "IfNotPresent",
                    "name": "chatbot",
                    "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                    "readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/healthz", "port": "http",
                                                                          "scheme": "HTTP"},
                                       "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1},
                    "resources": {"requests": {"cpu": "200m", "memory": "512Mi"}},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"}],
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                "serviceAccountName": "ecp-ai", "serviceAccount": "ecp-ai",
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "terminationGracePeriodSeconds": 30}}},
    "status": {"replicas": 3, "availableReplicas": 3, "observedGeneration": 2},
}

EXPECTED = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "chatbot", "namespace": "ecp-ai-acme",
                 "labels": {"app.kubernetes.io/managed-by": "ecpctl",
                            "app.kubernetes.io/name": "chatbot", "ecp.ai/tenant": "acme"}},
    "spec": {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "chatbot", "ecp.ai/tenant": "acme"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "chatbot"}},
            "spec": {
                "containers": [{
                    "env": [{"name": "SERVICE_TYPE", "value": "chatbot"},
                            {"name": "MAX_SESSIONS", "value": "150"}],
                    "envFrom": [{"configMapRef": {"name": "ecp-ai-config"}}],
                    "image": "ecp-ai/chatbot:latest",
                    "name": "chatbot",
                    "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                                       "periodSeconds": 10},
                    "resources": {"requests": {"cpu": "200m", "memory": "512Mi"}}}],
                "serviceAccountName": "ecp-ai",
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}}},
}


def test_projection_keeps_only_ecpctl_fields_in_the_objects_shape():
    view = observed(DEPLOYMENT, "ecpctl")
    assert view == EXPECTED
    # defaults the server filled in, status, another manager's label and the scaled replicas are out
    text = json.dumps(view)
    for absent in ("revisionHistoryLimit", "terminationMessagePath", "failureThreshold", "scheme",
                   "dnsPolicy", "team", "status", "managedFields", "resourceVersion", "replicas\": 3"):
        assert absent not in text
    # same order as the live object: stable, comparable as recorded
    assert list(view["spec"]) == ["selector", "strategy", "template"]
    assert [e["name"] for e in view["spec"]["template"]["spec"]["containers"][0]["env"]] == [
        "SERVICE_TYPE", "MAX_SESSIONS"]


def test_projection_is_a_pure_function_of_the_object():
    a = observed(DEPLOYMENT, "ecpctl")
    later = copy.deepcopy(DEPLOYMENT)
    later["metadata"]["resourceVersion"] = "999"
    later["status"] = {"replicas": 3, "availableReplicas": 1}
    later["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "2"
    assert observed(later, "ecpctl") == a
    assert a is not observed(DEPLOYMENT, "ecpctl")
    # and it never aliases the live object
    a["spec"]["selector"]["matchLabels"]["x"] = "y"
    assert "x" not in DEPLOYMENT["spec"]["selector"]["matchLabels"]


def test_a_changed_owned_value_shows_in_the_projection():
    edited = copy.deepcopy(DEPLOYMENT)
    edited["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"] = "999"
    view = observed(edited, "ecpctl")
    env = view["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[1] == {"name": "MAX_SESSIONS", "value": "999"}


def test_list_items_not_owned_are_dropped_and_keyed_items_found_anywhere():
    obj = copy.deepcopy(DEPLOYMENT)
    obj["spec"]["template"]["spec"]["containers"].insert(0, {"name": "sidecar", "image": "proxy"})
    obj["spec"]["template"]["spec"]["containers"][1]["env"].append({"name": "INJECTED", "value": "1"})
    view = observed(obj, "ecpctl")
    containers = view["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["chatbot"]
    assert [e["name"] for e in containers[0]["env"]] == ["SERVICE_TYPE", "MAX_SESSIONS"]


def test_manager_fields_ignores_subresources_and_other_operations():
    fields = manager_fields(DEPLOYMENT, "ecpctl")
    assert has_path(fields, "spec", "selector")
    assert not has_path(fields, "spec", "replicas")
    assert manager_fields(DEPLOYMENT, "kubectl") == {}          # only an Update via /scale
    assert manager_fields(DEPLOYMENT, "kubectl", operation="Update") == {}
    assert has_path(manager_fields(DEPLOYMENT, "kubectl-label", operation="Update"), "metadata", "labels", "team")
    others = {(m, op) for m, op, _ in other_managers(DEPLOYMENT, "ecpctl")}
    assert others == {("kubectl", "Update"), ("kubectl-label", "Update"),
                      ("kube-controller-manager", "Update")}


def test_sets_of_scalars_and_membership_only_items():
    # captured: a ConfigMap applied with a finalizer (a set: `v:` keys)
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "fin", "namespace": "x",
                       "finalizers": ["other.io/x", "example.com/keep"],
                       "labels": {"app.kubernetes.io/name": "x"},
                       "managedFields": [{"manager": "ecpctl", "operation": "Apply",
                                          "fieldsV1": {"f:data": {"f:a": {}}, "f:metadata": {
                                              "f:finalizers": {"v:\"example.com/keep\"": {}},
                                              "f:labels": {"f:app.kubernetes.io/name": {}}}}}]},
          "data": {"a": "1", "b": "2"}}
    assert observed(cm, "ecpctl") == {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "fin", "namespace": "x", "finalizers": ["example.com/keep"],
                     "labels": {"app.kubernetes.io/name": "x"}},
        "data": {"a": "1"}}
    # an item owned only as a member ("."): its key fields name it
    items = [{"port": 80, "protocol": "TCP", "name": "http"}, {"port": 81, "protocol": "TCP"}]
    fields = {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}}}
    assert project(items, fields) == [{"port": 80, "protocol": "TCP"}]
    assert project(["a", "b", "c"], {"i:1": {}}) == ["b"]


def test_cluster_scoped_identity_and_untouched_objects():
    ns = {"apiVersion": "v1", "kind": "Namespace",
          "metadata": {"name": "ecp-ai-acme", "labels": {"kubernetes.io/metadata.name": "ecp-ai-acme"},
                       "managedFields": [{"manager": "kubectl-create", "operation": "Update",
                                          "fieldsV1": {"f:status": {"f:phase": {}}}}]},
          "status": {"phase": "Active"}}
    assert observed(ns, "ecpctl") == {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": "ecp-ai-acme"}}


def test_secret_values_become_digests():
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "db", "namespace": "x",
                           "managedFields": [{"manager": "ecpctl", "operation": "Apply",
                                              "fieldsV1": {"f:data": {"f:PGPASSWORD": {}}, "f:type": {}}}]},
              "type": "Opaque", "data": {"PGPASSWORD": "aHVudGVyMg==", "OTHER": "eA=="}}
    view = observed(secret, "ecpctl")
    assert view["data"] == {"PGPASSWORD": digest("aHVudGVyMg==")}
    assert "aHVudGVyMg==" not in json.dumps(view)
    assert view["type"] == "Opaque"


def test_shaped_projects_live_values_onto_another_field_set():
    # what `import` records: live values of the fields the spec sets
    fields = {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:serviceAccountName": {}}}}}
    view = shaped(DEPLOYMENT, fields)
    assert view["spec"] == {"replicas": 3, "template": {"spec": {"serviceAccountName": "ecp-ai"}}}
    both = union(manager_fields(DEPLOYMENT, "ecpctl"), fields)
    assert shaped(DEPLOYMENT, both)["spec"]["replicas"] == 3
    assert has_path(both, "spec", "selector")


def test_drop_path_copies():
    view = observed(DEPLOYMENT, "ecpctl")
    out = drop_path(view, ("spec", "strategy"))
    assert "strategy" not in out["spec"] and "strategy" in view["spec"]
    assert drop_path(view, ("nope", "x")) == view


@pytest.mark.parametrize("path,found,value", [
    (".spec.template.spec.containers[name=\"chatbot\"].image", True, "ecp-ai/chatbot:latest"),
    (".spec.template.spec.containers[name=\"chatbot\"].env[name=\"MAX_SESSIONS\"].value", True, "150"),
    (".spec.template.spec.containers[name=\"chatbot\"].ports[containerPort=8080,protocol=\"TCP\"].name",
     True, "http"),
    (".spec.template.spec.containers[name=\"other\"].image", False, None),
    (".metadata.labels.app.kubernetes.io/name", True, "chatbot"),
    (".metadata.labels.app.kubernetes.io/managed-by", True, "ecpctl"),
    (".metadata.labels.team", False, None),
    (".spec.replicas", False, None),
    (".spec.template.spec.tolerations[0].key", True, "nvidia.com/gpu"),
    (".spec.selector.matchLabels.ecp.ai/tenant", True, "acme"),
])
def test_resolve_conflict_paths(path, found, value):
    assert resolve(observed(DEPLOYMENT, "ecpctl"), path) == (found, value)


def test_resolve_sets_and_strings_with_brackets():
    data = {"metadata": {"finalizers": ["a]b", "c"]},
            "items": [{"k": "x]y", "v": 1}]}
    assert resolve(data, ".metadata.finalizers[=\"a]b\"]") == (True, "a]b")
    assert resolve(data, ".metadata.finalizers[=\"zz\"]") == (False, None)
    assert resolve(data, ".items[k=\"x]y\"].v") == (True, 1)


def test_a_projection_shares_nothing_with_the_live_object():
    """The projection is recorded as `observed` while the live object stays in `private`: editing
    one must never change the other."""
    from providers.kubernetes.owned import copied, project
    live = {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "x:1", "env": [{"name": "A", "value": "1"}]}]}}}}
    fields = {"f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}}
    view = project(live, fields)
    assert view == live
    view["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "B"})
    assert live["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]
    odd = {"when": (1, 2), "n": 1.5, "ok": True, "none": None}
    assert copied(odd) == odd and copied(odd) is not odd
