"""The alertmanager provider (file mode): each tenant's receivers and route, merged into the
operator's alertmanager.yml, validated with amtool, reloaded, verified, rolled back on failure."""

from providers.alertmanager.provider import AlertmanagerProvider

__all__ = ["AlertmanagerProvider"]
