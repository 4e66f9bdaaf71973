"""Expansion: each tenant (with its sizing) becomes plain-data desired resources for every provider.

Generated secrets come from a `SecretSource`, so a password is made once and then kept in state.
"""

from ecpctl.expand.context import ExpandContext, SecretSource
from ecpctl.expand.tenant import Expansion, expand_config, expand_tenant

__all__ = ["ExpandContext", "Expansion", "SecretSource", "expand_config", "expand_tenant"]
