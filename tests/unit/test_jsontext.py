"""dumps_indented writes exactly what json.dumps(sort_keys=True, ensure_ascii=False, indent=1)
writes: on the real dashboards, on every JSON type, and on what it leaves to json.dumps."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ecpctl.dashboards import overview_dashboard, slo_dashboard
from ecpctl.jsontext import dumps_indented

CASES = [
    overview_dashboard("acme", "AI 콜센터 운영 \u202e\x1b[2J", ["callbot", "chatbot", "stt"], 150,
                       ["stt"]),
    slo_dashboard("acme", "AI", Decimal("99.95")),
    {"a": [1, 2.5, -0.0, 1e300, None, True, False, {}, [], "é\"\\\n\t\x00"], "b": {"z": 1, "y": [[]]}},
    {1: "a key that is not a string"},
    {"x": float("nan")},
    {"x": float("inf")},
    [], {}, "text", 3, None,
]


@pytest.mark.parametrize("value", CASES)
def test_same_text_as_the_standard_library(value):
    assert dumps_indented(value) == json.dumps(value, sort_keys=True, ensure_ascii=False, indent=1)


def test_what_json_cannot_encode_fails_as_json_does():
    with pytest.raises(TypeError):
        dumps_indented({"d": Decimal("1.5")})
