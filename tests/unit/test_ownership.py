"""The ownership check (ecpctl/ownership.py), the owner marks (ecpctl/kernel/ownership.py) and
per-workspace settings (ecpctl/workspaces.py), offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecpctl.config import load_config
from ecpctl.kernel import Address, ConfigError, ResourceState
from ecpctl.kernel.ownership import Owner, owner_of_comment, owner_of_metadata, owner_selector
from ecpctl.ownership import Standing, needs_mark, review, standing
from ecpctl.plan import Action, ActionReason, ResourceChange
from ecpctl.workspaces import for_workspace
from providers.kubernetes.marks import stamp
from providers.protocol import LiveObject

OURS = Owner("production", "lin-1")
DEMO = Owner("demo", "lin-2")
ADDR = Address.parse("tenant.acme.kubernetes.v1.Namespace.ecp-ai-acme")


def live(owner: Owner | None) -> LiveObject:
    return LiveObject(addr=ADDR, observed={}, owner=owner)


def prior(**private) -> ResourceState:
    return ResourceState(addr=ADDR, attributes={}, observed={}, private=private)


def change(action: Action, p: ResourceState | None = None) -> ResourceChange:
    return ResourceChange(addr=ADDR, action=action, before=None, after={}, prior=p,
                          action_reason=ActionReason.CREATE_NOT_IN_STATE)


def test_marks_round_trip_in_every_form():
    assert owner_of_metadata({"annotations": OURS.annotations()}) == OURS
    assert owner_of_comment(OURS.comment()) == OURS
    assert owner_of_comment("made by hand") is None
    # label values hold at most 63 characters: the label is a hash, the annotations the values
    assert len(OURS.labels()["ecp.ai/owner"]) == 16
    assert owner_selector(OURS) == f"ecp.ai/owner={OURS.hash}" != owner_selector(DEMO)
    m = stamp({"metadata": {"name": "x", "labels": {"a": "b"}}}, OURS)
    assert m["metadata"]["labels"] == {"a": "b", **OURS.labels()}
    assert owner_of_metadata(m["metadata"]) == OURS


@pytest.mark.parametrize("p, owner, want", [
    (None, OURS, Standing.OURS),
    (None, DEMO, Standing.FOREIGN),
    (None, None, Standing.UNMANAGED),
    (prior(), None, Standing.RECORDED),             # an earlier ecpctl made it: ours, mark it
    (prior(), DEMO, Standing.FOREIGN),              # taken over since by another workspace
    (prior(adopted=True), DEMO, Standing.RECORDED),  # ecpctl import: consent to take it
])
def test_standing(p, owner, want):
    assert standing(OURS, p, live(owner), marked=True) is want


def test_nothing_to_check_when_absent_or_unmarked_type():
    assert standing(OURS, None, None, marked=True) is None
    assert standing(OURS, None, live(None), marked=False) is None
    assert needs_mark(OURS, prior(), live(None), marked=True)
    assert not needs_mark(OURS, prior(), live(OURS), marked=True)
    assert not needs_mark(None, prior(), live(None), marked=True)


def test_review_refuses_naming_owner_and_object_and_adopt_shows_it():
    changes = {ADDR.text: change(Action.CREATE)}
    kept, errors = review(changes, {ADDR.text: live(DEMO)}, OURS, adopt=False,
                          marked=lambda p, t: True)
    assert len(errors) == 1
    assert errors[0].address == ADDR.text
    assert errors[0].summary == ("refusing to create over v1.Namespace ecp-ai-acme: it is owned "
                                 "by workspace 'demo' (state lineage lin-2), not by this "
                                 "workspace 'production' (state lineage lin-1)")
    assert "--adopt" in errors[0].detail and "spec.workspaces.production.providers" in errors[0].detail

    kept, errors = review(changes, {ADDR.text: live(DEMO)}, OURS, adopt=True,
                          marked=lambda p, t: True)
    assert not errors
    c = kept[ADDR.text]
    assert c.action_reason is ActionReason.CREATE_ADOPT_EXISTING
    assert c.reason.startswith("adopted with --adopt (owned by workspace 'demo'")


def test_review_refuses_deleting_what_another_workspace_took_over():
    changes = {ADDR.text: change(Action.DELETE, prior())}
    _, errors = review(changes, {ADDR.text: live(DEMO)}, OURS, adopt=False,
                       marked=lambda p, t: True)
    assert errors and errors[0].summary.startswith("refusing to delete v1.Namespace ecp-ai-acme")
    _, errors = review(changes, {ADDR.text: live(OURS)}, OURS, adopt=False,
                       marked=lambda p, t: True)
    assert not errors


PROJECT = """\
apiVersion: ecp.ai/v1
kind: Project
metadata: {name: p}
spec:
  providers:
    kubernetes: {fieldManager: mine, namespacePrefix: ecp-ai-}
    postgres: {dsnEnv: PG_DSN, rolePattern: "{tenant}_app"}
  workspaces:
    demo:
      demo: true
      providers:
        kubernetes: {namespacePrefix: ecp-demo-}
        grafana: {url: "http://grafana.demo:3000"}
    production: {}
"""

TENANT = """\
apiVersion: ecp.ai/v1
kind: Tenant
metadata: {name: acme}
spec:
  demo: true
  services: {chatbot: 10}
  sla: {availability: "99.5%"}
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    (tmp_path / "project.yaml").write_text(PROJECT)
    (tmp_path / "acme.yaml").write_text(TENANT)
    return tmp_path


def test_workspace_providers_merge_field_by_field(spec):
    providers = for_workspace(load_config(spec), "demo").project.spec.providers
    assert providers.kubernetes.namespacePrefix == "ecp-demo-"
    assert providers.kubernetes.fieldManager == "mine"          # kept from the project
    assert providers.postgres.dsnEnv == "PG_DSN"
    assert str(providers.grafana.url) == "http://grafana.demo:3000"
    # an undeclared workspace sees the project as it is
    assert for_workspace(load_config(spec), "other").project.spec.providers.kubernetes \
        .namespacePrefix == "ecp-ai-"


def test_a_demo_tenant_outside_a_demo_workspace_is_an_error_at_its_line(spec):
    with pytest.raises(ConfigError) as err:
        for_workspace(load_config(spec), "production")
    d = err.value.diagnostics[0]
    assert (Path(d.file).name, d.line) == ("acme.yaml", 5)
    assert "tenant acme is a demo tenant (demo: true) but workspace production" in d.summary
    (spec / "project.yaml").write_text(PROJECT.replace("production: {}",
                                                       "production: {mixedTenants: true}"))
    for_workspace(load_config(spec), "production")
