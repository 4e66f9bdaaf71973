"""The dashboards' ConfigMap text made from a template per shape of tenant is byte for byte the
text of the dashboards encoded directly, whatever the tenant's title, id or workspace."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ecpctl.expand.dashboard_text import MARKERS, DashboardTexts, Shape, encoded

TITLES = ["Acme", 'Quote "me" \\ back', "한국어 콜센터 — 상담", "tab\there", "emoji 🎧", "{{x}}",
          "ecp-ai-t1", "", "a" * 300, "trailing \\"]


def shape(**kw) -> Shape:
    base = dict(workspace="default", services=("callbot", "chatbot"), sla_ms=500,
                gpu_services=("callbot",), availability=Decimal("99.5"))
    return Shape(**{**base, **kw})


@pytest.mark.parametrize("title", TITLES)
def test_the_template_gives_the_same_text_as_encoding_directly(title):
    texts = DashboardTexts()
    for tid in ("t1", "acme-corp", "x"):
        ns = f"ecp-ai-{tid}"
        assert texts.texts(tid, title, ns, shape()) == encoded(tid, title, ns, shape())


@pytest.mark.parametrize("kw", [dict(workspace="production"), dict(workspace="with.dot"),
                                dict(services=("stt",), gpu_services=()),
                                dict(availability=Decimal("99.90")), dict(sla_ms=1200)])
def test_each_shape_has_its_own_template(kw):
    texts = DashboardTexts()
    texts.texts("t1", "One", "ecp-ai-t1", shape())          # another shape's template first
    got = texts.texts("t2", "Two", "prod-t2", shape(**kw))
    assert got == encoded("t2", "Two", "prod-t2", shape(**kw))
    assert got != encoded("t2", "Two", "prod-t2", shape())


def test_an_id_long_enough_for_a_hashed_uid_is_encoded_directly():
    tid = "t" * 40                     # ecp-<id>-overview is past Grafana's 40 characters
    got = DashboardTexts().texts(tid, "Long", f"ecp-ai-{tid}", shape())
    assert got == encoded(tid, "Long", f"ecp-ai-{tid}", shape())
    assert f'"uid": "ecp-{tid}-overview"' not in got["overview"]       # cut and hashed


@pytest.mark.parametrize("marker", MARKERS)
def test_a_title_holding_a_marker_character_is_encoded_directly(marker):
    title = f"odd {marker} title"
    got = DashboardTexts().texts("t1", title, "ecp-ai-t1", shape())
    assert got == encoded("t1", title, "ecp-ai-t1", shape())
    assert title in got["overview"]
