#!/usr/bin/env bash
# Installs what ecpctl and its tests need on a fresh Debian machine, skipping what is already there:
# Postgres 15, promtool and Alertmanager from Debian's packages, the Python package, and the
# Kubernetes control plane built from source into ~/.cache/ecpctl-testenv (first build: 10 to 18 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql postgresql-contrib)
# the package carries both: promtool checks rules, the server runs in `ecpctl sandbox`
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v -e "Running pip as the 'root' user" -e "dependency conflicts" -e "which is incompatible" || true
python3 -c "import ecpctl, click, pydantic, sqlalchemy, psycopg"
# the static checks of `make lint`, from the test extra
python3 -m ruff --version >/dev/null && python3 -m mypy --version >/dev/null && command -v lint-imports >/dev/null

# under CI the control plane is always set up: the tests refuse the skip switch anyway (tests/ci_rules.py)
case "${CI:-}" in true|1|yes) if [ "${ECPCTL_SKIP_KUBE:-0}" != "0" ]; then
  echo "setup: CI=true: ECPCTL_SKIP_KUBE=$ECPCTL_SKIP_KUBE would skip the control plane; CI runs every test" >&2; exit 1
fi ;; esac
if [ "${ECPCTL_SKIP_KUBE:-0}" != "1" ]; then
  python3 -m tests.testenv build
fi
