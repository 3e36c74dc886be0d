#!/usr/bin/env bash
# Run the whole test suite against a private PostgreSQL + Redis in .run/test/.
# Extra arguments go to `dotnet test`, e.g. ./test.sh --filter Category=Fast
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source scripts/lib.sh

STATE="${BATCH_TEST_STATE:-$REPO_ROOT/.run/test}"
RESULTS="$STATE/results"
PG_PORT="${BATCH_TEST_PG_PORT:-15442}"
REDIS_PORT="${BATCH_TEST_REDIS_PORT:-16389}"
DB=orleans_batch_test

cleanup() {
  trap '' INT TERM
  trap - EXIT
  set +e
  stop_redis "$STATE"
  stop_postgres "$STATE"
}

# Value of attribute $2 in the trx <Counters .../> element given as $1 (0 if absent).
counter() { grep -oE "\\b$2=\"[0-9]+\"" <<<"$1" | tr -dc '0-9' || echo 0; }

# Prints "PASSED FAILED SKIPPED TOTAL" summed over every trx file in $RESULTS.
trx_totals() {
  local file counters passed=0 failed=0 total=0 p f t
  while IFS= read -r -d '' file; do
    counters="$(grep -oE '<Counters [^>]*>' "$file" | head -n 1 || true)"
    [[ -n "$counters" ]] || continue
    t="$(counter "$counters" total)" p="$(counter "$counters" passed)"
    f=$(($(counter "$counters" failed) + $(counter "$counters" error) + $(counter "$counters" timeout) + $(counter "$counters" aborted)))
    total=$((total + t)) passed=$((passed + p)) failed=$((failed + f))
  done < <(find "$RESULTS" -name '*.trx' -type f -print0 2>/dev/null)
  echo "$passed $failed $((total - passed - failed)) $total"
}

run_tests() {
  BATCH_TEST_POSTGRES="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$DB;Maximum Pool Size=50" \
  BATCH_TEST_REDIS="127.0.0.1:$REDIS_PORT" \
    dotnet test Orleans.Batch.sln -c Release --no-build -nologo \
      --logger "console;verbosity=normal" --logger "trx;LogFilePrefix=results" \
      --results-directory "$RESULTS" "$@"
}

main() {
  ensure_tools
  mkdir -p "$STATE/logs"
  stop_leftovers "$STATE"
  require_free_ports "BATCH_TEST_PG_PORT, BATCH_TEST_REDIS_PORT" "PostgreSQL:$PG_PORT" "Redis:$REDIS_PORT"
  rm -rf "$RESULTS"

  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  # Tests trade commit durability for speed; ./run.sh keeps it on.
  BATCH_PG_SYNCHRONOUS_COMMIT=off start_postgres "$STATE" "$PG_PORT"
  rm -rf "$STATE/redis" # each run starts with an empty membership table, as it does with a fresh database
  start_redis "$STATE" "$REDIS_PORT"
  create_database "$PG_PORT" "$DB" --fresh
  apply_schema "$PG_PORT" "$DB"
  build_solution

  local status=0 passed failed skipped total
  run_tests "$@" || status=$?
  read -r passed failed skipped total < <(trx_totals)
  cleanup

  if ((status == 0 && total == 0)); then
    echo "error: no tests ran" >&2
    status=1
  fi
  echo "$passed passed, $failed failed, $skipped skipped"
  exit "$status"
}

main "$@"
