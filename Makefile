.PHONY: setup lint test unit demo sandbox sandbox-down

setup:
	bash scripts/setup.sh

# Static checks, in the order of their cost: style and plain mistakes (ruff), the layering
# contract of DESIGN.md (import-linter), types (mypy; strict on the kernel). Configured in
# pyproject.toml; installed by the `test` extra.
lint:
	python3 -m ruff check ecpctl providers state tests
	lint-imports
	python3 -m mypy

# Every test: the static checks, unit tests, and integration tests against a real Kubernetes
# control plane, Postgres, Prometheus, Alertmanager and promtool (two pytest processes side by
# side: scripts/test.sh).
test: setup
	$(MAKE) --no-print-directory lint
	bash scripts/test.sh

unit:
	python3 -m pytest -q tests/unit

# The end-to-end demo on `ecpctl sandbox`: the examples applied, traffic and `ecpctl sla`, a second
# plan with no changes, then a fault (pod_crash), its alerts and the SLA report of the breach.
demo: setup
	bash scripts/demo.sh

sandbox: setup
	ecpctl sandbox up

sandbox-down:
	ecpctl sandbox down
