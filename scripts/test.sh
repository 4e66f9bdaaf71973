#!/usr/bin/env bash
# The test run of `make test`: two pytest processes side by side, each with its own real servers.
# The long, mostly waiting integration tests (the kill matrix, the sandbox with its alerts firing
# and resolving) run in the second one while the first runs everything else; both must pass.
# Extra arguments go to both processes.
set -uo pipefail
cd "$(dirname "$0")/.."

long=(tests/integration/test_faults_matrix.py tests/integration/test_faults_matrix_state.py
      tests/integration/test_sandbox_e2e.py tests/integration/test_sandbox_faults.py
      tests/integration/test_sandbox_lifecycle.py tests/integration/test_sla_prometheus.py)
ignore=()
for f in "${long[@]}"; do ignore+=("--ignore=$f"); done

log=$(mktemp "${TMPDIR:-/tmp}/ecpctl-tests-long.XXXXXX")
python3 -m pytest -q -p no:cacheprovider "$@" "${long[@]}" >"$log" 2>&1 &
long_pid=$!
start=$SECONDS

python3 -m pytest -q -p no:cacheprovider "$@" "${ignore[@]}"
rc_main=$?
echo "== the rest: done after $((SECONDS - start)) s (exit $rc_main); waiting for the long tests"

wait "$long_pid"
rc_long=$?
echo "== long integration tests (${long[*]##*/}): exit $rc_long after $((SECONDS - start)) s"
cat "$log"
rm -f "$log"

[ "$rc_main" -eq 0 ] && [ "$rc_long" -eq 0 ]
