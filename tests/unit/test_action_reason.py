"""The reason of each change is an enum the planner sets (display text beside it), exposed in the
JSON plan as `action_reason` and kept in saved plans: one case per reason, planned against the
fake provider's "live" objects."""

from __future__ import annotations

import pytest

from ecpctl.kernel import Address, Resource
from ecpctl.plan import ActionReason, Plan
from ecpctl.planfile import read_plan, write_plan
from ecpctl.planner import PlanOptions, PriorState, make_plan
from ecpctl.views.plan_json import change_json
from providers.registry import ProviderSet
from tests.fakes.provider import FakeProvider, write_live

DEP = Address("acme", "kubernetes", "apps/v1.Deployment", "callbot")
ROLE = Address("acme", "postgres", "role", "acme_app")


class RotatingFake(FakeProvider):
    @classmethod
    def rotates_in_place(cls, rtype: str) -> bool:
        return rtype == "role"


@pytest.fixture
def fake(tmp_path, monkeypatch):
    monkeypatch.setenv("ECPCTL_FAKE_DIR", str(tmp_path / "live"))
    monkeypatch.setenv("ECPCTL_PROVIDER_OVERRIDES",
                       "kubernetes=tests.fakes.provider:FakeProvider,"
                       "postgres=tests.unit.test_action_reason:RotatingFake")
    providers = ProviderSet()
    yield providers
    providers.close()


def plan_one(providers, *, desired=None, prior=None, live=None, **opts) -> Plan:
    if live is not None:
        write_live((desired or prior).address, live)
    state = PriorState("lin", 1, {prior.address: prior} if prior else {})
    return make_plan([desired] if desired else [], state, workspace="default", config_digest="d",
                     providers=providers, opts=PlanOptions(**opts))


A = {"spec": {"selector": {"app": "callbot"}, "replicas": 2}}
B = {"spec": {"selector": {"app": "callbot"}, "replicas": 3}}
SEL = {"spec": {"selector": {"app": "other"}, "replicas": 2}}


@pytest.mark.parametrize("case,reason", [
    ("new", ActionReason.CREATE_NOT_IN_STATE),
    ("adopt", ActionReason.CREATE_ADOPT_EXISTING),
    ("gone", ActionReason.CREATE_DELETED_OUTSIDE),
    ("config", ActionReason.UPDATE_CONFIG_CHANGED),
    ("drift", ActionReason.UPDATE_DRIFT),
    ("both", ActionReason.UPDATE_CONFIG_CHANGED_AND_DRIFT),
    ("replace", ActionReason.REPLACE_BY_REQUEST),
    ("rotate", ActionReason.UPDATE_ROTATE_BY_REQUEST),
    ("immutable", ActionReason.REPLACE_BECAUSE_CANNOT_UPDATE),
    ("removed", ActionReason.DELETE_BECAUSE_NO_RESOURCE_CONFIG),
    ("destroy", ActionReason.DELETE_BY_REQUEST),
    ("vanished", ActionReason.DELETE_DELETED_OUTSIDE),
])
def test_each_reason_reaches_the_json_plan_and_the_saved_plan(fake, tmp_path, case, reason):
    d = Resource(DEP, A)
    rec = d.recorded(A)
    kw = {
        "new": dict(desired=d),
        "adopt": dict(desired=d, live=A),
        "gone": dict(desired=d, prior=rec),
        "config": dict(desired=Resource(DEP, B), prior=rec, live=A),
        "drift": dict(desired=d, prior=rec, live=B),
        "both": dict(desired=Resource(DEP, B), prior=rec, live={"spec": {"selector": {"app": "callbot"}, "replicas": 5}}),
        "replace": dict(desired=d, prior=rec, live=A, replace=(DEP.text,)),
        "rotate": dict(desired=Resource(ROLE, {"password": "x"}),
                       prior=Resource(ROLE, {"password": "x"}).recorded({"password": "x"}),
                       live={"password": "x"}, replace=(ROLE.text,)),
        "immutable": dict(desired=Resource(DEP, SEL), prior=rec, live=A),
        "removed": dict(prior=rec, live=A),
        "destroy": dict(desired=d, prior=rec, live=A, destroy=True),
        "vanished": dict(prior=rec),
    }[case]
    plan = plan_one(fake, **kw)
    (change,) = plan.pending()
    assert change.action_reason is reason
    assert change.reason.startswith(reason.text) or reason is ActionReason.REPLACE_BECAUSE_CANNOT_UPDATE
    assert change_json(change)["action_reason"] == reason.value
    path = tmp_path / "saved.plan"
    write_plan(plan, path)
    assert read_plan(path).changes[0].action_reason is reason


def test_a_replacement_forced_by_an_attribute_names_it_in_the_display_text(fake):
    plan = plan_one(fake, desired=Resource(DEP, SEL), prior=Resource(DEP, A).recorded(A), live=A)
    assert plan.changes[0].reason == "configuration changed; spec.selector forces replacement"


def test_a_no_op_has_no_reason(fake):
    plan = plan_one(fake, desired=Resource(DEP, A), prior=Resource(DEP, A).recorded(A), live=A)
    assert not plan.has_changes and plan.changes[0].action_reason is None
    assert change_json(plan.changes[0])["action_reason"] is None


def test_every_reason_has_display_text():
    assert all(r.text for r in ActionReason)
