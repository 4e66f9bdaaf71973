"""Per-invocation settings shared by every command: where state lives and which workspace is selected."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from state.store import StateStore

DATA_DIR = ".ecpctl"
DEFAULT_WORKSPACE = "default"


@dataclass
class CliContext:
    state_url: str | None = None        # --state-url / ECPCTL_STATE_URL / Project spec.state.url
    workspace_override: str | None = None   # --workspace / ECPCTL_WORKSPACE
    data_dir: Path = field(default_factory=lambda: Path(DATA_DIR))
    _store: "StateStore | None" = None

    @property
    def workspace(self) -> str:
        if self.workspace_override:
            return self.workspace_override
        env = os.environ.get("ECPCTL_WORKSPACE")
        if env:
            return env
        marker = self.data_dir / "workspace"
        if marker.is_file():
            name = marker.read_text().strip()
            if name:
                return name
        return DEFAULT_WORKSPACE

    def select_workspace(self, name: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "workspace").write_text(name + "\n")

    def resolved_state_url(self, project_url: str | None = None) -> str | None:
        return self.state_url or os.environ.get("ECPCTL_STATE_URL") or project_url

    def store(self, project_url: str | None = None) -> "StateStore":
        if self._store is None:
            from state.store import StateStore
            self._store = StateStore.open(self.resolved_state_url(project_url), data_dir=self.data_dir)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
