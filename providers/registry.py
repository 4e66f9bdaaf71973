"""Which class implements each provider, and a lazily configured set of provider instances.

`ECPCTL_PROVIDER_OVERRIDES="kubernetes=pkg.module:Class,..."` swaps an implementation, the way
Terraform's dev_overrides do; the engine's tests use it to run the CLI against a fake provider.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
from typing import Any
from collections.abc import Mapping

from ecpctl.kernel import Diagnostic, ProviderNotConfigured, has_errors
from ecpctl.kernel.ownership import Owner
from providers.protocol import ConfigureRequest, Provider

PROVIDER_NAMES = ("kubernetes", "postgres", "grafana", "alertmanager", "prometheus")

BUILTIN: dict[str, str] = {
    "kubernetes": "providers.kubernetes:KubernetesProvider",
    "postgres": "providers.postgres:PostgresProvider",
    "grafana": "providers.grafana:GrafanaProvider",
    "alertmanager": "providers.alertmanager:AlertmanagerProvider",
    "prometheus": "providers.prometheus:PrometheusRulesProvider",
}


def _overrides() -> dict[str, str]:
    return _parse_overrides(os.environ.get("ECPCTL_PROVIDER_OVERRIDES", ""))


@functools.cache
def _parse_overrides(raw: str) -> dict[str, str]:
    """ECPCTL_PROVIDER_OVERRIDES parsed once per value: the planner asks for classes per resource."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in raw.split(","))):
        name, _, target = item.partition("=")
        if not target:
            raise ProviderNotConfigured(
                f"ECPCTL_PROVIDER_OVERRIDES: {item!r} is not NAME=module:Class")
        out[name.strip()] = target.strip()
    return out


def provider_class(name: str) -> type[Provider] | None:
    """The class for `name`, or None when this build has no implementation of it."""
    target = _overrides().get(name) or BUILTIN.get(name)
    return None if target is None else _load(target)


@functools.cache
def _load(target: str) -> type[Provider] | None:
    """The class `module:Class` names (once per target: the planner asks per resource)."""
    module_name, _, cls_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return None
        raise
    return getattr(module, cls_name, None)


class ProviderSet:
    """Provider instances, configured on first use from the Project's settings and CLI options."""

    def __init__(self, settings: Mapping[str, Any] | None = None,
                 options: Mapping[str, Mapping[str, Any]] | None = None):
        self._settings = dict(settings or {})
        self._options = dict(options or {})
        self._instances: dict[str, Provider] = {}
        self._lock = threading.Lock()
        self.warnings: list[Diagnostic] = []
        self.owner: Owner | None = None
        self.check_on_write = False

    def set_owner(self, owner: Owner, *, check_on_write: bool = False) -> None:
        """The owner mark every provider writes, now and when configured later; `check_on_write`:
        providers verify the live mark before each write (Provider.set_owner)."""
        with self._lock:
            self.owner, self.check_on_write = owner, check_on_write
            for inst in self._instances.values():
                inst.set_owner(owner, check_on_write=check_on_write)

    def configured(self) -> dict[str, Provider]:
        """The providers configured so far, by name."""
        with self._lock:
            return dict(self._instances)

    def get(self, name: str) -> Provider:
        with self._lock:
            if name in self._instances:
                return self._instances[name]
            cls = provider_class(name)
            if cls is None:
                raise ProviderNotConfigured(
                    f"provider {name} is not available in this build; "
                    f"plan with --no-refresh to compare against state alone")
            inst = cls()
            resp = inst.configure(ConfigureRequest(settings=self._settings.get(name) or {},
                                                   options=self._options.get(name) or {}))
            errors = [d for d in resp.diagnostics if d.severity.value == "error"]
            if has_errors(resp.diagnostics):
                raise ProviderNotConfigured(f"provider {name}: " + errors[0].one_line())
            self.warnings.extend(resp.diagnostics)
            if self.owner is not None:
                inst.set_owner(self.owner, check_on_write=self.check_on_write)
            self._instances[name] = inst
            return inst

    def close(self) -> None:
        with self._lock:
            for inst in self._instances.values():
                try:
                    inst.close()
                except Exception:  # noqa: BLE001 - closing must never mask the real outcome
                    pass
            self._instances.clear()
