"""`ecpctl sandbox`: a local control plane with kwok nodes, Postgres, Prometheus, Alertmanager and a
workload simulator on loopback, started in the background; tests/testenv and the demo use it too."""
