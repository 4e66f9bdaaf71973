#!/usr/bin/env bash
# The end-to-end demo on this machine: a real local Kubernetes control plane (built from source on
# first use) and a real Postgres, the example tenants applied, `ecpctl status`, and a second plan
# that shows no changes.
set -euo pipefail
cd "$(dirname "$0")/.."
export ECPCTL_SANDBOX_DIR="${ECPCTL_SANDBOX_DIR:-$PWD/.ecpctl/sandbox}"
# the global-call-center example pages a Slack channel; its webhook URL is a secret read from here
export NOC_SLACK_WEBHOOK_URL="${NOC_SLACK_WEBHOOK_URL:-https://hooks.slack.example.com/services/demo}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "validate and size the examples"
ecpctl validate examples
ecpctl calc examples

step "plan against state alone (no live systems needed)"
ecpctl --data-dir .ecpctl/demo plan examples --no-refresh | tail -n 3

step "start the sandbox (Kubernetes control plane with fake GPU nodes, Postgres)"
python3 -m tests.testenv up --nodes 8   # 16 fake GPUs: the examples ask for 14
# shellcheck disable=SC1091
source "$ECPCTL_SANDBOX_DIR/env.sh"

step "apply the examples"
ecpctl --data-dir .ecpctl/demo apply examples --auto-approve --timeout 180

step "status"
ecpctl --data-dir .ecpctl/demo status --path examples

step "a second plan: nothing to do"
ecpctl --data-dir .ecpctl/demo plan examples --detailed-exitcode

echo
echo "Sandbox is still running: 'python3 -m tests.testenv down' stops it."
