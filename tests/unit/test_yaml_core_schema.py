"""Plain scalars in spec files are read by the YAML 1.2 core schema: what becomes a number, a
boolean or null, and what stays text (YAML 1.1's yes/no/on/off among them)."""

from __future__ import annotations

import math

import pytest

from ecpctl.config.yaml_reader import resolve


@pytest.mark.parametrize("text, value", [
    ("", None), ("~", None), ("null", None), ("Null", None), ("NULL", None),
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False),
    ("12", 12), ("-3", -3), ("+4", 4), ("0o17", 15), ("0x1F", 31),
    ("1.5", 1.5), (".5", 0.5), ("1e3", 1000.0), ("-.inf", -math.inf), (".Inf", math.inf),
])
def test_values_other_than_text(text, value):
    got = resolve(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text", ["abc", "nope", "tRuE", "yes", "no", "on", "off", "ecp.ai/v1",
                                  "5m", "-x", "+", ".", "0o8", "0xZ", "1.2.3", "nulls", "Nan",
                                  "99.5%", "t", "f", "n"])
def test_text_stays_text(text):
    assert resolve(text) == text


def test_nan():
    assert math.isnan(resolve(".nan")) and math.isnan(resolve(".NaN"))
