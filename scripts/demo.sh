#!/usr/bin/env bash
# The end-to-end demo on this machine, on `ecpctl sandbox`: a real local Kubernetes control plane
# with fake GPU nodes (built from source on first use), Postgres, Prometheus, Alertmanager and the
# workload simulator. The example tenants are applied with the sandbox's Project (rules and routes
# in file mode), traffic flows and `ecpctl sla` reports; then a fault is injected, the alerts fire,
# and the SLA report shows the breach; the fault is cleared and the services come back.
set -euo pipefail
cd "$(dirname "$0")/.."
export ECPCTL_SANDBOX_DIR="${ECPCTL_SANDBOX_DIR:-$PWD/.ecpctl/sandbox}"
# the global-call-center example pages a Slack channel; its webhook URL is a secret read from here
export NOC_SLACK_WEBHOOK_URL="${NOC_SLACK_WEBHOOK_URL:-https://hooks.slack.example.com/services/demo}"
DEMO="${ECPCTL_DEMO_DIR:-.ecpctl/demo}"   # state and the specs applied
SPECS=$DEMO/specs
FAULTY=test-ai-service           # the tenant the fault is injected into

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
# poll CMD until it succeeds, at most SECONDS; say what it waited for
wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then echo "gave up waiting for $what after ${seconds}s" >&2; return 1; fi
    sleep 3
  done
  echo "($what after $((seconds - deadline + SECONDS))s)"
}
firing() {   # firing TENANT ALERT: the sandbox's Prometheus has ALERT firing for TENANT
  curl -fsS "$ECPCTL_PROMETHEUS_URL/api/v1/alerts" | python3 -c '
import json, sys
alerts = json.load(sys.stdin)["data"]["alerts"]
sys.exit(not any(a["state"] == "firing" and a["labels"].get("tenant_id") == sys.argv[1]
                 and a["labels"].get("alertname") == sys.argv[2] for a in alerts))' "$1" "$2"
}
not_firing() { ! firing "$@"; }
recovered() {   # recovered TENANT: the last incident of TENANT in the SLA report has ended
  { ecpctl sla --path "$SPECS" "$1" --period 5m --json || true; } | python3 -c '
import json, sys
incidents = json.load(sys.stdin)["tenants"][0]["incidents"]
sys.exit(not incidents or incidents[-1]["end"] is None)'
}
show_alerts() {
  curl -fsS "$ECPCTL_PROMETHEUS_URL/api/v1/alerts" | python3 -c '
import json, sys
for a in json.load(sys.stdin)["data"]["alerts"]:
    if a["state"] == "firing":
        l = a["labels"]
        print("  %-16s %-9s tenant=%s service=%s window=%s" % (
            l["alertname"], l.get("severity", ""), l.get("tenant_id"), l.get("service", "-"),
            l.get("long_window", "-")))'
}

step "validate and size the examples"
ecpctl validate examples
ecpctl calc examples

step "plan against state alone (no live systems needed)"
ecpctl --data-dir "$DEMO" plan examples --no-refresh | tail -n 3

step "start the sandbox (Kubernetes with fake GPU nodes, Postgres, Prometheus, Alertmanager, simulator)"
ecpctl sandbox up --nodes 8   # 16 fake GPUs: the examples ask for 14
eval "$(ecpctl sandbox env)"

step "the examples with the sandbox's Project (its servers; rules and routes in file mode)"
mkdir -p "$SPECS"
cp "$ECPCTL_SANDBOX_DIR/project.yaml" "$SPECS/project.yaml"
for f in examples/*.yaml; do [ "$(basename "$f")" = project.yaml ] || cp "$f" "$SPECS/"; done
ls "$SPECS"

step "apply"
ecpctl --data-dir "$DEMO" apply "$SPECS" --auto-approve --wait-timeout 180

step "status: wait until every service is ready"
ecpctl status --path "$SPECS" --wait --wait-timeout 3m

step "traffic flows: the SLA report (every tenant meeting its target)"
wait_for "a minute of clean traffic" 180 ecpctl sla --path "$SPECS" --period 1m
ecpctl sla --path "$SPECS" --period 1m

step "a second plan: nothing to do"
ecpctl --data-dir "$DEMO" plan "$SPECS" --detailed-exitcode | tail -n 1

step "a fault: the pods of $FAULTY crash"
ecpctl sandbox fault "$FAULTY" pod_crash
wait_for "ServiceDown to fire" 120 firing "$FAULTY" ServiceDown
wait_for "the burn-rate page to fire" 120 firing "$FAULTY" ErrorBudgetBurn
echo "Firing in Prometheus (and routed by Alertmanager to the tenant's receivers):"
show_alerts
ecpctl status --path "$SPECS" "$FAULTY" || true

step "the SLA report: $FAULTY breaches its target (exit code 3)"
ecpctl sla --path "$SPECS" --period 5m || echo "(ecpctl sla exited $?)"

step "clear the fault; the services come back"
ecpctl sandbox fault --clear
ecpctl status --path "$SPECS" --wait --wait-timeout 2m
wait_for "ServiceDown to resolve" 120 not_firing "$FAULTY" ServiceDown
wait_for "the error ratio to fall back under the budget" 120 recovered "$FAULTY"
echo "The SLA report now shows the incident with its length (MTTR); the period still breaches:"
ecpctl sla --path "$SPECS" "$FAULTY" --period 5m || true

echo
echo "The sandbox is still running: 'ecpctl sandbox status' shows it, 'ecpctl sandbox down' stops it."
