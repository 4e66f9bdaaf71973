"""The state store: what ecpctl applied, per workspace, with lineage, serial, history and locks.

SQLite file by default, Postgres by URL; every change goes through `StateStore`'s methods.
"""

from state.records import LockInfo, StateSnapshot, TenantRecord, VersionInfo
from state.store import StateStore

__all__ = ["LockInfo", "StateSnapshot", "StateStore", "TenantRecord", "VersionInfo"]
