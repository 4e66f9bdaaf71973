"""The write-time owner check of apply/destroy --no-refresh (ecpctl/kernel/owner_check.py): the
plan's rules, applied to the mark a provider read just before writing."""

from __future__ import annotations

import pytest

from ecpctl.kernel import Conflict
from ecpctl.kernel.owner_check import refuse_write, refusal
from ecpctl.kernel.ownership import Owner

OURS, THEIRS = Owner("green", "l-1"), Owner("blue", "l-2")


@pytest.mark.parametrize("theirs, recorded, imported, refused", [
    (OURS, False, False, False),            # ours
    (None, True, False, False),             # in state, no mark yet (ecpctl from before marks)
    (None, False, False, True),             # there, unmarked, not ours: never taken silently
    (THEIRS, True, False, True),            # another owner's, though this state records it
    (THEIRS, True, True, False),            # taken over with `ecpctl import`
    (Owner("green", "l-3"), True, False, True),   # same workspace name, another lineage
])
def test_rules(theirs, recorded, imported, refused):
    text = refusal("delete", "Namespace ecp-ai-acme", OURS, theirs, recorded=recorded,
                   imported=imported)
    assert (text is not None) is refused
    if refused:
        with pytest.raises(Conflict) as info:
            refuse_write("delete", "Namespace ecp-ai-acme", OURS, theirs, recorded=recorded,
                         imported=imported)
        assert str(info.value).startswith("refusing to delete Namespace ecp-ai-acme: ")
        assert "--no-refresh" in str(info.value) and "--adopt" in str(info.value)


def test_names_both_owners():
    text = refusal("change", "role acme_app", OURS, THEIRS, recorded=True)
    assert text is not None
    assert "owned by workspace 'blue' (state lineage l-2)" in text
    assert "not by this workspace 'green' (state lineage l-1)" in text


def test_no_owner_set_checks_nothing():
    refuse_write("delete", "x", None, THEIRS, recorded=False)
