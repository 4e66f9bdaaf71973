"""`calc --explain` for people: what each service adds to the tier, the headroom left, and which
service pushes the tenant past the tier below (ecpctl/sizing_explain.py computes it)."""

from __future__ import annotations

from typing import Any

from ecpctl.sizing_explain import RESOURCES, format_amount

NAMES = {"cpu": "CPU limits", "memory": "memory limits", "gpus": "GPUs"}


def explain_lines(e: Any) -> list[str]:
    out = ["Why " + e.tenant_id + " is " + e.tier + ":"]
    for s in e.shares:
        parts = ", ".join(f"{format_amount(r, s.amount(r))} {NAMES[r]}" for r in RESOURCES
                          if r != "gpus" or s.gpus)
        out.append(f"  {s.service} adds {parts}")
    room = ", ".join(f"{format_amount(r, v)} {NAMES[r]}" for r, v in e.headroom.items())
    out.append(f"  left in {e.tier}: {room}")
    if e.below is None:
        out.append(f"  {e.tier} is the smallest tier")
        return out
    for o in e.overruns:
        who = ", ".join(f"{s} {format_amount(o.resource, a)}" for s, a in o.by)
        out.append(f"  past {e.below}: {NAMES[o.resource]} {format_amount(o.resource, o.need)} > "
                   f"{format_amount(o.resource, o.limit)}, pushed by {o.pushed_by} ({who})")
    if e.fits_below_without:
        out.append(f"  without {' or '.join(e.fits_below_without)} it would fit {e.below}")
    elif not e.overruns:
        out.append(f"  it would fit {e.below}: the preset asks for more")
    else:
        out.append(f"  no single service's removal would fit it in {e.below}")
    return out


__all__ = ["explain_lines"]
