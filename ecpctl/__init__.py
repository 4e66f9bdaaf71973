"""ecpctl: declarative plan/apply for ECP-AI tenants.

Tenant YAML -> config -> sizing -> desired resources -> graph -> plan -> apply, through providers.
"""

__version__ = "0.1.0"
