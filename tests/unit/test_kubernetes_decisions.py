"""The provider's ownership decisions, offline: drift vs conflict, and who owns a Deployment's replicas."""

from __future__ import annotations

from ecpctl.kernel import Resource
from ecpctl.kernel import Address
from providers.kubernetes import KubernetesProvider
from providers.kubernetes.provider import desired_view
from providers.kubernetes.ssa import HANDOVER_MANAGER, Conflict
from ecpctl.kernel import ResourceState


def deployment(replicas=2) -> Resource:
    attrs = {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "chatbot", "namespace": "ecp-ai-acme"},
             "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                 {"name": "chatbot", "image": "a:1"}]}}}}
    return Resource(Address("acme", "kubernetes", "apps/v1.Deployment", "chatbot"), attrs)


def hpa() -> Resource:
    attrs = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
             "metadata": {"name": "chatbot", "namespace": "ecp-ai-acme"},
             "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "chatbot"}}}
    return Resource(Address("acme", "kubernetes", "autoscaling/v2.HorizontalPodAutoscaler", "chatbot"),
                    attrs)


def state(observed, private=None, attributes=None) -> ResourceState:
    d = deployment()
    return ResourceState(d.addr, attributes=attributes or d.attributes, observed=observed, private=private or {})


OWNED = {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "chatbot", "namespace": "ecp-ai-acme"},
         "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "chatbot", "image": "a:1"}]}}}}
IMAGE = Conflict("kubectl-edit", "", '.spec.template.spec.containers[name="chatbot"].image')
REPLICAS = Conflict("kubectl", "scale", ".spec.replicas")


def test_a_field_taken_from_ecpctl_is_drift_and_a_never_owned_one_a_conflict():
    p = KubernetesProvider()
    now = {"spec": {"template": {"spec": {"containers": [{"name": "chatbot"}]}}}}   # image lost
    lost, foreign = p._split_conflicts([IMAGE], state(OWNED), now)
    assert (lost, foreign) == ([IMAGE], [])
    # no prior state: the same conflict is someone else's field
    assert p._split_conflicts([IMAGE], None, now) == ([], [IMAGE])
    # still owned by ecpctl (shared with another manager) and the spec changes it: a conflict
    assert p._split_conflicts([IMAGE], state(OWNED), OWNED) == ([], [IMAGE])


def test_import_consents_to_take_the_fields_the_spec_sets():
    p = KubernetesProvider()
    imported = state({"apiVersion": "apps/v1"}, private={"adopted": True}, attributes=OWNED)
    assert p._split_conflicts([IMAGE], imported, {}) == ([IMAGE], [])


def test_replicas_are_reclaimed_from_an_autoscaler_only_when_asked():
    p = KubernetesProvider()
    handover = Conflict(HANDOVER_MANAGER, "", ".spec.replicas")
    no_replicas = {"spec": {}}
    assert p._split_conflicts([handover, REPLICAS], state(no_replicas), no_replicas,
                              reclaim_replicas=True) == ([handover, REPLICAS], [])
    assert p._split_conflicts([handover], state(no_replicas), no_replicas) == ([], [handover])


def test_observed_replicas_follow_the_hpa_rule():
    p = KubernetesProvider()
    d = deployment()
    # without an HPA: owned replicas count; unowned ones are marked to be taken back
    assert p._replicas_view(d, OWNED) == OWNED
    unowned = {**OWNED, "spec": {"template": OWNED["spec"]["template"]}}
    assert p._replicas_view(d, unowned)["spec"]["replicas"] is None
    # with the spec's HPA: replicas never count
    p._remember([hpa()])
    assert "replicas" not in p._replicas_view(d, OWNED)["spec"]
    assert p._replicas_view(d, unowned) == unowned
    assert p._hpa_managed_known(d)


def test_an_hpa_leaving_the_spec_gives_replicas_back():
    p = KubernetesProvider()
    p._hpa_live = {("ecp-ai-acme", "chatbot")}
    assert p._hpa_managed_known(deployment())
    p._hpa_leaving = {("ecp-ai-acme", "chatbot")}
    assert not p._hpa_managed_known(deployment())
    assert not p.hpa_managed(deployment())


def test_desired_view_hides_secret_values():
    secret = Resource(Address("a", "kubernetes", "v1.Secret", "db"),
                      {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "n"},
                       "data": {"P": "aHVudGVyMg=="}}, sensitive=("data",))
    view = desired_view(secret)
    assert view["data"]["P"].startswith("sha256:")
    assert view["metadata"] == {"name": "db", "namespace": "n"}
