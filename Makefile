.PHONY: setup test unit demo sandbox sandbox-down

setup:
	bash scripts/setup.sh

# Every test: unit tests, and integration tests against a real Kubernetes control plane,
# Postgres, Alertmanager and promtool started by tests/testenv.
test: setup
	python3 -m pytest -q -p no:cacheprovider

unit:
	python3 -m pytest -q tests/unit

# The end-to-end demo: sandbox up, examples applied, status, and a second plan with no changes.
demo: setup
	bash scripts/demo.sh

sandbox: setup
	ecpctl sandbox up

sandbox-down:
	ecpctl sandbox down
