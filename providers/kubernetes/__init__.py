"""The Kubernetes provider: server-side apply with field manager `ecpctl`, bulk reads by label,
diffs over owned fields only (managedFields), readiness waits, and a capacity check."""

from providers.kubernetes.provider import KubernetesProvider

__all__ = ["KubernetesProvider"]
