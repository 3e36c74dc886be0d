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
RESTART=1
RESTART_MAX_DELAY=30 # seconds: the longest wait before restarting a process that keeps exiting
STABLE_AFTER=30      # seconds: a process up this long counts as healthy, so its next restart waits 1 s again
# PIDS: the app processes' current pids; UP_SINCE: when each last started; FAILS: its exits in a row, each
# within STABLE_AFTER of its start; RESTART_AT: when a process that exited starts again; REPORTED: exits said once.
declare -A PIDS=() UP_SINCE=() FAILS=() RESTART_AT=() REPORTED=()

usage() {
  cat <<USAGE
Usage: ./run.sh [--silos N] [--urls URLS] [--no-restart]

Starts PostgreSQL (port $PG_PORT), Redis (port $REDIS_PORT), N silos (default 1)
and the gateway (default http://127.0.0.1:8080), then waits for Ctrl-C.
A silo or the gateway that exits (killed, crashed) is started again on the same ports,
after 1 s, doubling to ${RESTART_MAX_DELAY} s while it keeps exiting within ${STABLE_AFTER} s of its start;
--no-restart only reports the exit.
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
      --no-restart) RESTART=0; shift ;;
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

# start_app NAME COMMAND...: background process, log .run/logs/NAME.log, pid .run/NAME.pid. A restart appends to
# the log, so the lines before a crash stay.
start_app() {
  local name="$1"
  shift
  if [[ -n "${PIDS[$name]:-}" ]]; then
    printf '\n===== run.sh: restarting %s at %s =====\n' "$name" "$(date -u +%FT%TZ)" >>"$LOGS/$name.log"
    "$@" >>"$LOGS/$name.log" 2>&1 &
  else
    log "starting $name"
    STARTED+=("$name")
    "$@" >"$LOGS/$name.log" 2>&1 &
  fi
  PIDS[$name]=$!
  UP_SINCE[$name]=$SECONDS
  echo "$!" >"$STATE/$name.pid"
}

# start_named NAME: starts silo-N or the gateway again, with the settings of its first start.
start_named() {
  case "$1" in
    gateway) start_gateway ;;
    silo-*) start_silo "${1#silo-}" ;;
  esac
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

# new_api_key: a key in the service's format (ApiKeys in Grains.Interfaces): obk_, a key id of 12 hex digits, _, and
# 256 random bits in base64url.
new_api_key() {
  local id secret
  id="$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  secret="$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')"
  printf 'obk_%s_%s\n' "$id" "$secret"
}

# ensure_dev_keys: on the first start writes a writer key of tenant `dev` to STATE/dev-api-key and an operator (admin)
# key to STATE/admin-api-key (mode 0600); on every start stores the tenant and the keys' SHA-256 unless present, so a
# key revoked through the admin API stays revoked (delete its file for a new one).
ensure_dev_keys() {
  local name file key args=()
  for name in dev admin; do
    file="$STATE/$name-api-key"
    if ! grep -qsxE 'obk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}' "$file"; then
      (umask 077 && new_api_key >"$file.tmp") && mv -f "$file.tmp" "$file"
      log "wrote a new ${name} API key to ${file#"$REPO_ROOT"/}"
    fi
    chmod 600 "$file"
    key="$(<"$file")"
    args+=(-v "${name}_id=$(cut -c5-16 <<<"$key")" -v "${name}_hash=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)")
  done
  pg_psql "$PG_PORT" "$DB" "${args[@]}" <<'SQL'
INSERT INTO tenants (id, name) VALUES ('dev', 'Development tenant') ON CONFLICT (id) DO NOTHING;
INSERT INTO api_keys (key_id, tenant_id, role, hash) VALUES (:'dev_id', 'dev', 'writer', decode(:'dev_hash', 'hex'))
ON CONFLICT (key_id) DO NOTHING;
INSERT INTO api_keys (key_id, tenant_id, role, hash) VALUES (:'admin_id', NULL, 'admin', decode(:'admin_hash', 'hex'))
ON CONFLICT (key_id) DO NOTHING;
SQL
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
      *) stop_pidfile "$STATE/$name.pid" Orleans.Batch ;;
    esac
  done
  STARTED=()
  wait 2>/dev/null || true # reap the background children
}

cleanup() {
  trap '' INT TERM
  trap - EXIT
  set +e
  exec 2>&"$STDERR_FD" # a signal can arrive inside wait_forever's quiet wait, whose stderr is /dev/null
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

# schedule_restart NAME: sets DELAY to the seconds to wait before starting NAME again (1, doubling with each exit in
# a row, at most RESTART_MAX_DELAY) and RESTART_AT[NAME] to that time.
schedule_restart() {
  local name="$1" fails
  ((SECONDS - UP_SINCE[$name] < STABLE_AFTER)) || FAILS[$name]=0
  fails="${FAILS[$name]:-0}"
  DELAY=1
  while ((fails-- > 0 && DELAY < RESTART_MAX_DELAY)); do DELAY=$((DELAY * 2)); done
  ((DELAY <= RESTART_MAX_DELAY)) || DELAY=$RESTART_MAX_DELAY
  FAILS[$name]=$((${FAILS[$name]:-0} + 1))
  RESTART_AT[$name]=$((SECONDS + DELAY))
}

# Notices an app process that has exited (e.g. a silo killed by hand) and says so; with restarts on, starts it
# again once its delay has passed, on the same ports (a silo back on another port stalls the next join).
supervise() {
  local name pid code
  for name in "${!PIDS[@]}"; do
    pid="${PIDS[$name]}"
    if [[ -n "${RESTART_AT[$name]:-}" ]]; then
      if ((SECONDS >= RESTART_AT[$name])); then
        unset "RESTART_AT[$name]"
        start_named "$name"
        log "$name restarted (pid ${PIDS[$name]})"
      fi
      continue
    fi
    [[ -z "${REPORTED[$name]:-}" ]] && ! pid_alive "$pid" || continue
    code=0
    wait "$pid" 2>/dev/null || code=$?
    if ((RESTART == 0)); then
      log "$name (pid $pid) exited with $code; see ${LOGS#"$REPO_ROOT"/}/$name.log (--no-restart: not restarting it)"
      REPORTED[$name]=1
      continue
    fi
    rm -f "$STATE/$name.pid" # until it runs again: the old number may soon belong to another process
    schedule_restart "$name"
    log "$name (pid $pid) exited with $code; restarting in $DELAY s (log: ${LOGS#"$REPO_ROOT"/}/$name.log)"
  done
}

wait_forever() {
  while :; do
    sleep 1 &
    SLEEP_PID=$!
    # bash announces a killed child ("line N: PID Killed ...") when it reaps it; supervise says it better.
    { wait "$SLEEP_PID" || true; } 2>/dev/null
    supervise
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

  exec {STDERR_FD}>&2
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  STARTED+=(postgres)
  start_postgres "$STATE" "$PG_PORT"
  STARTED+=(redis)
  start_redis "$STATE" "$REDIS_PORT"
  create_database "$PG_PORT" "$DB"
  apply_schema "$PG_PORT" "$DB"
  ensure_dev_keys

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
  Dashboard:  $url/dashboard (admin key)
  API key:    ${STATE#"$REPO_ROOT"/}/dev-api-key (tenant dev, writer), e.g.
              curl -H "Authorization: Bearer \$(cat ${STATE#"$REPO_ROOT"/}/dev-api-key)" $url/users
  Admin key:  ${STATE#"$REPO_ROOT"/}/admin-api-key (the operator: /admin/..., the dashboard)
  Logs:       ${LOGS#"$REPO_ROOT"/}/
$(((RESTART)) && echo "A silo or the gateway that exits is restarted (--no-restart turns it off)." || echo "A silo or the gateway that exits is only reported (--no-restart).")
Ctrl-C to stop.
READY
  wait_forever
}

main "$@"
