"""The one line an apply prints when it is about to record generated secrets without a state key:
they go into state in clear, and how to have them encrypted instead (docs/state.md says the same)."""

from __future__ import annotations

from ecpctl.kernel import Diagnostic

NOTICE = ("no state key: generated secrets (database passwords) are stored unencrypted in state; "
          "to encrypt them, set ECPCTL_STATE_KEY (or the Project's spec.state.keyFile) to a key "
          "from `openssl rand -base64 32`; `ecpctl state rekey` encrypts what is already stored")


def unencrypted_secrets(obj, plan) -> tuple[Diagnostic, ...]:
    """The notice, when `plan` writes a sensitive value and no key is configured; else nothing."""
    from ecpctl.plan import Action
    writes = any(c.sensitive and c.action is not Action.DELETE for c in plan.pending())
    if not writes or obj.state_key() is not None:
        return ()
    return (Diagnostic.warning(NOTICE),)
