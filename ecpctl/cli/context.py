"""Per-invocation settings shared by every command: where state lives, which workspace is selected,
and which key encrypts sensitive values at rest."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from state.keys import StateKey
    from state.store import StateStore

DATA_DIR = ".ecpctl"
DEFAULT_WORKSPACE = "default"


@dataclass
class CliContext:
    state_url: str | None = None        # --state-url / ECPCTL_STATE_URL / Project spec.state.url
    workspace_override: str | None = None   # --workspace / ECPCTL_WORKSPACE
    data_dir: Path = field(default_factory=lambda: Path(DATA_DIR))
    key_file: Path | None = None        # the Project's spec.state.keyFile, or a saved plan's
    _store: StateStore | None = None

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

    @classmethod
    def for_completion(cls, ctx) -> CliContext:
        """The settings of a command line being completed: click resolves it without running the
        group's callback, so they are read from the root's parsed parameters."""
        params = ctx.find_root().params
        return cls(state_url=params.get("state_url"), workspace_override=params.get("workspace"),
                   data_dir=Path(params.get("data_dir") or DATA_DIR))

    def select_workspace(self, name: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "workspace").write_text(name + "\n")

    def resolved_state_url(self, project_url: str | None = None) -> str | None:
        return self.state_url or os.environ.get("ECPCTL_STATE_URL") or project_url

    def store(self, project_url: str | None = None) -> StateStore:
        """The state store for commands that write: its database and tables are created if needed."""
        if self._store is None or self._store.readonly:
            from state.store import StateStore
            key = self.state_key()   # a bad key fails before the database is opened
            store = StateStore.open(self.resolved_state_url(project_url), data_dir=self.data_dir,
                                    key=key)
            self._close_store()
            self._store = store
        return self._store

    def reader(self, project_url: str | None = None) -> StateStore:
        """The state store for read-only commands: creates no directory, file, table or row.

        A state that does not exist yet reads as empty (default workspace, serial 0, nothing in
        it); writing through it raises StateError. A store already opened for writing is reused.
        """
        if self._store is None:
            from state.store import StateStore
            key = self.state_key()
            self._store = StateStore.open(self.resolved_state_url(project_url), data_dir=self.data_dir,
                                          key=key, readonly=True)
        return self._store

    def state_key(self) -> StateKey | None:
        """ECPCTL_STATE_KEY, else ECPCTL_STATE_KEY_FILE's key, else the Project's key file's."""
        from state import keys
        key = keys.key_from_env()
        if key is None and self.key_file is not None:
            key = keys.read_key_file(self.key_file)
        return key

    def key_from_environment(self) -> bool:
        from state import keys
        return bool(os.environ.get(keys.KEY_ENV, "").strip()
                    or os.environ.get(keys.KEY_FILE_ENV, "").strip())

    def use_project_key(self, config) -> bool:
        """Take the key file a loaded Project names (relative to the Project file).

        The environment's key wins. True when the key in use changed (an open store uses it at
        once, so what it writes from now on is encrypted).
        """
        name = config.project.spec.state.keyFile
        if name is None or self.key_from_environment():
            return False
        path = Path(name).expanduser()
        if not path.is_absolute() and config.project_file:
            path = Path(config.project_file).parent / path
        if path == self.key_file:
            return False
        self.key_file = path
        if self._store is not None:
            self._store.set_key(self.state_key())
        return True

    def close(self) -> None:
        self._close_store()

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
