"""The arithmetic of `ecpctl sla` (ecpctl/sla.py): availability, status, budget, downtime and
incidents from an error-ratio series, and the step chosen for a period."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ecpctl.sla import Incident, TenantSla, incidents, steps


def sla(requests: float, failed: float, target: str = "99.5", found=()) -> TenantSla:
    return TenantSla(tenant="acme", target=Decimal(target), requests=requests, failed=failed,
                     burn_rates={}, downtime_seconds=0.0, incidents=tuple(found))


@pytest.mark.parametrize("requests, failed, availability, status, budget", [
    (1000, 0, 100.0, "meeting", 1.0),
    (1000, 5, 99.5, "meeting", 0.0),
    (1000, 2, 99.8, "meeting", 0.6),
    (1000, 6, 99.4, "breaching", -0.2),
    (1000, 1000, 0.0, "breaching", -199.0),
    (0, 0, None, "no data", None),
])
def test_availability_status_and_budget(requests, failed, availability, status, budget):
    s = sla(requests, failed)
    assert s.availability == pytest.approx(availability) if availability is not None \
        else s.availability is None
    assert s.status == status
    assert s.budget_remaining == pytest.approx(budget) if budget is not None \
        else s.budget_remaining is None


def test_a_hundred_percent_target_has_no_budget():
    assert sla(1000, 0, "100").budget_remaining == 1.0
    assert sla(1000, 1, "100").budget_remaining == float("-inf")
    assert sla(1000, 1, "100").status == "breaching"


def test_downtime_and_incidents_from_the_error_ratio():
    step = 2.0
    ratios = [0, 0, 1, 1, 1, 0, 0, 0.5, 0.5, 0, 0.001]
    points = [(100 + i * step, r) for i, r in enumerate(ratios)]
    down, found = incidents(points, budget=0.005, step=step, end=points[-1][0])
    assert down == 5 * step
    assert found == (Incident(102.0, 108.0), Incident(112.0, 116.0))
    assert sum(i.seconds for i in found) == down
    s = sla(1000, 10, found=found)
    assert s.mttr_seconds == pytest.approx((6 + 4) / 2)


def test_an_incident_still_going_on_has_no_end_and_no_recovery_time():
    points = [(0.0, 0.0), (2.0, 1.0), (4.0, 1.0)]
    down, found = incidents(points, 0.005, 2.0, end=4.0)
    assert down == 4.0 and found == (Incident(0.0, None),)
    assert sla(10, 10, found=found).mttr_seconds is None


def test_missing_points_neither_start_nor_end_an_incident():
    points = [(0.0, 1.0), (2.0, 1.0), (20.0, 0.0)]      # no data between 2 s and 20 s
    down, found = incidents(points, 0.005, 2.0, end=20.0)
    assert down == 4.0 and found == (Incident(-2.0, 2.0),)


@pytest.mark.parametrize("period, scrape, step, window", [
    (3600, 2, 3.6, 8), (300, 2, 2, 8), (3600, 30, 30, 120), (86400 * 30, 30, 2592, 2592),
])
def test_steps(period, scrape, step, window):
    assert steps(period, scrape) == (pytest.approx(step), pytest.approx(window))
