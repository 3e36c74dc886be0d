#!/usr/bin/env bash
# Run Orleans.Batch locally: PostgreSQL + Redis + N silos + the HTTP gateway.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source scripts/lib.sh

STATE="${BATCH_RUN_STATE:-$REPO_ROOT/.run}"
LOGS="$STATE/logs"
PG_PORT="${BATCH_PG_PORT:-15432}"
REDIS_PORT="${BATCH_REDIS_PORT:-16379}"
DB=orleans_batch
SILO_DLL=Silo/bin/Release/net10.0/Orleans.Batch.Silo.dll
GATEWAY_DLL=Gateway/bin/Release/net10.0/Orleans.Batch.Gateway.dll

SILOS=1
URLS="${ASPNETCORE_URLS:-http://127.0.0.1:8080}"
STARTED=()     # names in start order; stopped in reverse
declare -A PIDS=() REPORTED=()

usage() {
  cat <<USAGE
Usage: ./run.sh [--silos N] [--urls URLS]

Starts PostgreSQL (port $PG_PORT), Redis (port $REDIS_PORT), N silos (default 1)
and the gateway (default http://127.0.0.1:8080), then waits for Ctrl-C.
State and logs live in .run/ (BATCH_RUN_STATE). Ports: BATCH_PG_PORT, BATCH_REDIS_PORT,
BATCH_SILO_PORT_BASE (silo i uses base+i), BATCH_GATEWAY_PORT_BASE, ASPNETCORE_URLS.
BATCH_RUN_SKIP_BUILD=1 runs what is already built.
USAGE
}

parse_args() {
  while (($#)); do
    case "$1" in
      --silos) SILOS="${2:?--silos needs a number}"; shift 2 ;;
      --silos=*) SILOS="${1#*=}"; shift ;;
      --urls) URLS="${2:?--urls needs a value}"; shift 2 ;;
      --urls=*) URLS="${1#*=}"; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
  done
  [[ "$SILOS" =~ ^[1-9][0-9]*$ ]] || die "--silos must be a positive integer, got '$SILOS'"
}

# First URL of URLS, with wildcard hosts replaced so curl can reach it.
local_url() {
  local url="${URLS%%;*}"
  url="${url%/}"
  echo "$url" | sed -E 's#://(\*|\+|0\.0\.0\.0|\[::\])(:|$)#://127.0.0.1\2#'
}

# start_app NAME COMMAND...: background process, log .run/logs/NAME.log, pid .run/NAME.pid.
start_app() {
  local name="$1"
  shift
  log "starting $name"
  "$@" >"$LOGS/$name.log" 2>&1 &
  PIDS[$name]=$!
  echo "$!" >"$STATE/$name.pid"
  STARTED+=("$name")
}

start_silo() {
  local i="$1"
  start_app "silo-$i" env \
    Orleans__SiloPort=$((${BATCH_SILO_PORT_BASE:-11110} + i)) \
    Orleans__GatewayPort=$((${BATCH_GATEWAY_PORT_BASE:-30000} + i)) \
    DOTNET_ENVIRONMENT=Production \
    dotnet "$SILO_DLL"
}

start_gateway() {
  start_app gateway env ASPNETCORE_ENVIRONMENT=Production ASPNETCORE_URLS="$URLS" \
    dotnet "$GATEWAY_DLL" --urls "$URLS"
}

export_app_config() {
  export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$DB;Maximum Pool Size=50"
  export ConnectionStrings__Redis="127.0.0.1:$REDIS_PORT"
  export Orleans__ClusterId=orleans-batch
  export Orleans__ServiceId=orleans-batch
}

stop_started() {
  local i name
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
    name="${STARTED[i]}"
    case "$name" in
      postgres) stop_postgres "$STATE" ;;
      redis) stop_redis "$STATE" ;;
      *) stop_pidfile "$STATE/$name.pid" ;;
    esac
  done
  STARTED=()
  wait 2>/dev/null || true # reap the background children
}

cleanup() {
  trap '' INT TERM
  trap - EXIT
  set +e
  [[ -n "${SLEEP_PID:-}" ]] && kill "$SLEEP_PID" 2>/dev/null
  stop_started
}

# Last lines of the log of everything this run started.
show_log_tails() {
  local name
  for name in "${STARTED[@]}"; do
    printf '\n----- .run/logs/%s.log (last 30 lines) -----\n' "$name" >&2
    tail -n 30 "$LOGS/$name.log" >&2 || true
  done
}

# Report (once) any app process that has exited, e.g. a silo killed by hand.
report_exits() {
  local name
  for name in "${!PIDS[@]}"; do
    if [[ -z "${REPORTED[$name]:-}" ]] && ! pid_alive "${PIDS[$name]}"; then
      log "$name (pid ${PIDS[$name]}) has exited; see .run/logs/$name.log"
      REPORTED[$name]=1
    fi
  done
}

wait_forever() {
  while :; do
    sleep 2 &
    SLEEP_PID=$!
    wait "$SLEEP_PID" || true
    report_exits
  done
}

main() {
  parse_args "$@"
  ensure_tools
  mkdir -p "$STATE" "$LOGS"
  stop_leftovers "$STATE"
  local i url ports=("PostgreSQL:$PG_PORT" "Redis:$REDIS_PORT")
  for ((i = 1; i <= SILOS; i++)); do
    ports+=("silo-$i:$((${BATCH_SILO_PORT_BASE:-11110} + i))" "silo-$i-gateway:$((${BATCH_GATEWAY_PORT_BASE:-30000} + i))")
  done
  url="$(local_url)"
  [[ "${url##*:}" =~ ^[0-9]+$ ]] && ports+=("HTTP:${url##*:}")
  require_free_ports "BATCH_PG_PORT, BATCH_REDIS_PORT, BATCH_SILO_PORT_BASE, BATCH_GATEWAY_PORT_BASE, --urls" "${ports[@]}"

  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  STARTED+=(postgres)
  start_postgres "$STATE" "$PG_PORT"
  STARTED+=(redis)
  start_redis "$STATE" "$REDIS_PORT"
  create_database "$PG_PORT" "$DB"
  apply_schema "$PG_PORT" "$DB"

  if [[ "${BATCH_RUN_SKIP_BUILD:-}" == 1 ]]; then log "skipping the build (BATCH_RUN_SKIP_BUILD=1)"; else build_solution; fi
  [[ -f "$SILO_DLL" && -f "$GATEWAY_DLL" ]] || die "build output missing: $SILO_DLL / $GATEWAY_DLL"

  export_app_config
  for ((i = 1; i <= SILOS; i++)); do start_silo "$i"; done
  start_gateway

  log "waiting for $url/health"
  if ! wait_http "$url/health" 120 "${PIDS[gateway]}"; then
    show_log_tails
    die "gateway did not become healthy at $url/health"
  fi

  cat <<READY

Orleans.Batch is running with $SILOS silo(s).
  API:        $url
  Dashboard:  $url/dashboard
  Logs:       .run/logs/
Ctrl-C to stop.
READY
  wait_forever
}

main "$@"
