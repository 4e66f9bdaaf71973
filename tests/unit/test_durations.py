"""The one duration parser (ecpctl.kernel.durations): spec fields, PromQL range selectors and
timeouts all read `1h30m` the same way and refuse the same malformed text."""

from __future__ import annotations

import pytest

from ecpctl.kernel.durations import (DurationError, format_duration, normalize_duration,
                                     parse_duration, parse_seconds)
from ecpctl.promql import PromQLError, parse


@pytest.mark.parametrize("text,ms", [("150ms", 150), ("30s", 30_000), ("5m", 300_000),
                                     ("2h30m", 9_000_000), ("1d", 86_400_000), ("1w", 604_800_000),
                                     ("1h0m5s100ms", 3_605_100)])
def test_parse(text, ms):
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "5", "m5", "5m1h", "5mm", "1.5h", "-5m", " 5m", None, 5])
def test_malformed(text):
    with pytest.raises(DurationError, match="malformed duration"):
        parse_duration(text)


def test_format_is_canonical():
    assert format_duration(90_000) == "1m30s" and format_duration(0) == "0s"
    assert normalize_duration("90s") == "1m30s" and normalize_duration("7d") == "1w"


@pytest.mark.parametrize("text,seconds", [("90s", 90.0), ("5m", 300.0), ("1m30s", 90.0),
                                          ("500ms", 0.5), ("30", 30.0), ("2.5", 2.5), (10, 10.0),
                                          (0.25, 0.25)])
def test_timeouts_take_durations_or_bare_seconds(text, seconds):
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "-3", "1h-5m", True, ""])
def test_malformed_timeouts(text):
    with pytest.raises(DurationError):
        parse_seconds(text)


def test_promql_range_selectors_use_the_same_parser():
    parse('rate(x[1h30m]) > 1')
    with pytest.raises(PromQLError, match="not a valid duration string: '5m1h'"):
        parse('rate(x[5m1h]) > 1')
    with pytest.raises(DurationError):
        parse_duration("5m1h")                   # the spec refuses exactly what PromQL refuses
