"""The sandbox's workload simulator: kwok pods run no containers, so this process makes the traffic
and usage a real cluster's exporters would report, and Prometheus scrapes it."""
