"""The provider protocol: one request/response pair per operation, each response with diagnostics.

Data flow for one resource:
    desired (Resource) + prior (ResourceState from the state store) + live (LiveObject from `read`)
    -> `plan` -> planned view and requires-replace paths -> `apply` -> new ResourceState.

Two views of an object are kept apart:
  * `attributes`: the desired attributes as expanded from the spec (what ecpctl asked for);
  * `observed`: the provider's normalized read-back of the fields ecpctl owns (for Kubernetes, the
    managedFields projection of the live object). A no-op plan compares the live `observed` with the
    `observed` recorded at the last apply, and the desired `attributes` with the recorded ones, so it
    needs one bulk `read` per provider and no per-object request.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar
from collections.abc import Callable, Mapping, Sequence

from ecpctl.kernel import Address, Diagnostic, Resource, ResourceState
from ecpctl.kernel.ownership import Owner
from ecpctl.kernel.pending import Pending
from ecpctl.kernel.resource import Identified


@dataclass(frozen=True)
class LiveObject(Identified):
    """A provider's read-back of one object: `observed` in the same shape it records at apply.

    `owner`: the owner mark the object carries (None: none, or a type `Provider.marks` says is
    never marked)."""

    addr: Address
    observed: Mapping[str, Any]
    private: Mapping[str, Any] = field(default_factory=dict)
    owner: Owner | None = None


# --- configure -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConfigureRequest:
    settings: Mapping[str, Any]          # the Project file's `providers.<name>` block
    options: Mapping[str, Any]           # CLI overrides (kubeconfig, context, force_conflicts, ...)


@dataclass(frozen=True)
class ConfigureResponse:
    diagnostics: tuple[Diagnostic, ...] = ()


# --- validate --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ValidateRequest:
    resources: Sequence[Resource]
    strict: bool = False                 # warnings that --strict turns into errors
    leaving: Sequence[ResourceState] = ()   # what the plan deletes (capacity it frees)


@dataclass(frozen=True)
class ValidateResponse:
    diagnostics: tuple[Diagnostic, ...] = ()


# --- read ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReadRequest:
    """Read many objects at once. `desired` and `prior` together name every object of interest."""

    desired: Sequence[Resource]
    prior: Sequence[ResourceState]

    def addresses(self) -> dict[str, Address]:
        """Address text -> identity of every object of interest, for building LiveObjects."""
        out = {s.address: s.addr for s in self.prior}
        out.update((r.address, r.addr) for r in self.desired)
        return out


@dataclass(frozen=True)
class ReadResponse:
    live: Mapping[str, LiveObject]       # address -> object; an absent address means "not found"
    diagnostics: tuple[Diagnostic, ...] = ()
    requests: Mapping[str, int] = field(default_factory=dict)   # verb -> count, for benchmarks


# --- plan ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanRequest:
    desired: Resource
    prior: ResourceState | None
    live: LiveObject | None


@dataclass(frozen=True)
class PlanResponse:
    """`planned` is the after-view in the `observed` shape (for Kubernetes, a dry-run result)."""

    planned: Mapping[str, Any]
    before: Mapping[str, Any] | None = None   # override of the before-view, if the provider has one
    requires_replace: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()


# --- apply / delete / import -----------------------------------------------------------------

ProgressFn = Callable[[str, str], None]     # (address, message)


@dataclass(frozen=True)
class ApplyRequest:
    desired: Resource
    prior: ResourceState | None
    live: LiveObject | None
    replace: bool = False
    progress: ProgressFn | None = None
    deadline: float | None = None       # time.monotonic() when the whole apply must end (--timeout)
    # The caller takes a readiness wait as `ApplyResponse.pending` instead of the call blocking
    # on it (the apply walk: a rollout being waited on holds no parallelism slot).
    defer_wait: bool = False


@dataclass(frozen=True)
class ApplyResponse:
    state: ResourceState | None
    diagnostics: tuple[Diagnostic, ...] = ()
    # With `defer_wait`: the readiness still to come, settled by the provider (an error when the
    # object did not become ready). `state` is what to record once it settles without one.
    pending: Pending | None = None


@dataclass(frozen=True)
class DeleteRequest:
    prior: ResourceState
    progress: ProgressFn | None = None
    deadline: float | None = None       # time.monotonic() when the whole apply must end (--timeout)
    defer_wait: bool = False            # as ApplyRequest.defer_wait, for the wait until it is gone


@dataclass(frozen=True)
class DeleteResponse:
    diagnostics: tuple[Diagnostic, ...] = ()
    pending: Pending | None = None      # with `defer_wait`: the object being gone, still to come


@dataclass(frozen=True)
class ImportRequest(Identified):
    """Adopt the existing object `id` (the provider's own ID: `ns/name`, a uid, a role name) as
    the resource at `addr`."""

    addr: Address
    id: str
    desired: Resource | None = None


@dataclass(frozen=True)
class ImportResponse:
    state: ResourceState | None
    diagnostics: tuple[Diagnostic, ...] = ()


class Provider(abc.ABC):
    """Base class of every provider. Errors raised by methods must be
    `ecpctl.kernel.diagnostics.ProviderError`.

    Implementations must be safe to call from several threads at once (apply is parallel).
    """

    name: ClassVar[str]
    owner: Owner | None = None      # the state whose mark apply writes (set_owner)
    # apply and delete read the object's mark first and refuse another owner's (set_owner with
    # check_on_write: apply/destroy --no-refresh, where no plan-time check ran)
    check_on_write: bool = False

    @classmethod
    def marks(cls, rtype: str) -> bool:
        """True when objects of `rtype` carry an owner mark that `read` reports. Static."""
        return False

    def set_owner(self, owner: Owner, *, check_on_write: bool = False) -> None:
        """The workspace and lineage that apply writes on every object from now on.
        `check_on_write`: also verify, where the provider can, that each object apply changes or
        delete removes is not another owner's (ecpctl.kernel.owner_check)."""
        self.owner = owner
        self.check_on_write = check_on_write

    def target(self) -> Mapping[str, Any]:
        """Where this provider points, resolved: what a saved plan is bound to (server URL,
        cluster or database system identity, ...). `identity` is the key that must match for a
        saved plan to be applied; the rest is for display. Empty: nothing to bind."""
        return {}

    @classmethod
    def requires_replace(cls, rtype: str) -> tuple[str, ...]:
        """Attribute paths of `rtype` whose change forces delete-and-create. Static: no connection."""
        return ()

    @classmethod
    def rotates_in_place(cls, rtype: str) -> bool:
        """True when `-replace` of an `rtype` only needs its generated secrets renewed, which an
        update does without destroying the object (a Postgres role keeps its grants). Static."""
        return False

    def configure(self, req: ConfigureRequest) -> ConfigureResponse:
        return ConfigureResponse()

    def validate(self, req: ValidateRequest) -> ValidateResponse:
        return ValidateResponse()

    @abc.abstractmethod
    def read(self, req: ReadRequest) -> ReadResponse: ...

    def plan(self, req: PlanRequest) -> PlanResponse:
        """Default: the after-view is the desired attributes; replace paths are the static ones."""
        return PlanResponse(planned=req.desired.attributes)

    @abc.abstractmethod
    def apply(self, req: ApplyRequest) -> ApplyResponse: ...

    @abc.abstractmethod
    def delete(self, req: DeleteRequest) -> DeleteResponse: ...

    def import_resource(self, req: ImportRequest) -> ImportResponse:
        from ecpctl.kernel import ProviderError
        raise ProviderError(f"provider {self.name} cannot import {req.type}", address=req.address)

    def close(self) -> None:  # noqa: B027 - optional: most providers hold nothing to release
        """Release connections."""
