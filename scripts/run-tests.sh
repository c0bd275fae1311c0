#!/usr/bin/env bash
# Runs the unit tests (Criterion, through meson test) and the end-to-end tests
# (pytest on the real binaries of build folder $1), then prints one summary line.
set -u
cd "$(dirname "$0")/.."
dir=${1:-build-asan}
export GAMEDAY_BIN="$PWD/$dir/gameday"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp}

unit_pass=0 unit_fail=0
meson test -C "$dir" --suite unit --print-errorlogs --num-processes 2 > "$dir/unit.log" 2>&1
unit_rc=$?
tail -n 15 "$dir/unit.log"
# Criterion prints "Synthesis: Tested: N | Passing: P | Failing: F | Crashing: C" per executable.
read -r unit_pass unit_fail < <(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, re, sys
p = f = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    m = re.search(r'Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)', t.get('stdout', '') + t.get('stderr', ''))
    if m:
        p += int(m.group(2)); f += int(m.group(3)) + int(m.group(4))
    elif t.get('result') != 'OK':
        f += 1
print(p, f)
PY
)
[ "$unit_rc" -ne 0 ] && [ "$unit_fail" -eq 0 ] && unit_fail=1

e2e_pass=0 e2e_fail=0
if ls tests/e2e/test_*.py tests/edge/test_*.py >/dev/null 2>&1; then
  /usr/bin/python3 -m pytest tests/e2e tests/edge -q -p no:cacheprovider "${PYTEST_ARGS[@]:-}" 2>&1 | tee "$dir/e2e.log"
  e2e_rc=${PIPESTATUS[0]}
  line=$(grep -E '^(=+ )?[0-9]+ (passed|failed)' "$dir/e2e.log" | tail -n 1)
  e2e_pass=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
  e2e_fail=$(echo "$line" | grep -oE '[0-9]+ (failed|error|errors)' | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
  [ -z "$e2e_pass" ] && e2e_pass=0
  [ -z "$e2e_fail" ] && e2e_fail=0
  [ "$e2e_rc" -ne 0 ] && [ "$e2e_fail" -eq 0 ] && e2e_fail=1
fi

echo "unit: $unit_pass passed, $unit_fail failed; e2e: $e2e_pass passed, $e2e_fail failed"
total_pass=$((unit_pass + e2e_pass)); total_fail=$((unit_fail + e2e_fail))
echo "summary: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
