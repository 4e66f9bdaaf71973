"""The prometheus provider (rules file mode): each tenant's rule groups as one file in the rule
directory of a running Prometheus, checked with promtool, reloaded, verified, restored on failure."""

from providers.prometheus.provider import PrometheusRulesProvider

__all__ = ["PrometheusRulesProvider"]
