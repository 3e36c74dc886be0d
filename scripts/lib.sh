#!/usr/bin/env bash
# Shared helpers for run.sh and test.sh. Source it; do not execute it.
# Every function assumes `set -euo pipefail` in the caller.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools

# Newest installed PostgreSQL server bin dir, e.g. /usr/lib/postgresql/15/bin.
pg_bin() {
  local dir
  dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$dir" && -x "$dir/postgres" && -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/psql" ]] || return 1
  echo "$dir"
}

ensure_tools() {
  local missing=()
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || missing+=(redis-server)
  pg_bin >/dev/null || missing+=(postgresql)
  command -v curl >/dev/null || missing+=(curl)
  command -v runuser >/dev/null || die "runuser (util-linux) is required"
  ((${#missing[@]} == 0)) && return 0

  ((EUID == 0)) || die "missing ${missing[*]}; install them or run as root"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  pg_bin >/dev/null || die "PostgreSQL server binaries not found after install"
}

# ---------------------------------------------------------------- processes

# True if PID runs and is not a zombie; with PATTERN, its command line must contain it
# (guards against a stale pid file whose number now belongs to another process).
pid_alive() {
  local pid="$1" pattern="${2:-}" state cmdline
  [[ "$pid" =~ ^[0-9]+$ ]] && ((pid != $$)) && kill -0 "$pid" 2>/dev/null || return 1
  state="$(awk '{print $3}' 2>/dev/null <"/proc/$pid/stat" || true)"
  [[ "$state" != Z ]] || return 1
  cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" || true)"
  [[ "$cmdline" == *"$pattern"* ]]
}

pidfile_pid() { if [[ -f "$1" ]]; then tr -dc '0-9' <"$1"; fi; }

wait_gone() {
  local pid="$1" tenths="$2"
  while ((tenths-- > 0)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  ! pid_alive "$pid"
}

# stop_pidfile FILE [CMDLINE_PATTERN]: TERM, wait up to 10 s, then KILL; removes FILE.
stop_pidfile() {
  local file="$1" pattern="${2:-}" pid
  pid="$(pidfile_pid "$file")"
  if [[ -n "$pid" ]] && pid_alive "$pid" "$pattern"; then
    log "stopping $(basename "$file" .pid) (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 100; then
      log "pid $pid did not stop in 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 50 || true
    fi
  fi
  rm -f "$file"
}

# ---------------------------------------------------------------- postgres

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

# Where PostgreSQL keeps its data dir, socket and log for STATE_DIR: STATE_DIR/postgres when user postgres can reach
# it, else (a clone under a 0700 home) /var/lib/orleans-batch/<hash of STATE_DIR>, recorded in STATE_DIR/postgres.home
# so that later runs keep the same data and stop, cleanup and stop_leftovers find the server.
PG_EXTERNAL_ROOT="${BATCH_PG_EXTERNAL_ROOT:-/var/lib/orleans-batch}"

pg_home() {
  local state
  state="$(realpath -m "$1")"
  if [[ -s "$state/postgres.home" ]]; then cat "$state/postgres.home"; else echo "$state/postgres"; fi
}

pg_data_dir() { echo "$(pg_home "$1")/data"; }

# Live postmaster pid for a data dir, or nothing.
postmaster_pid() {
  local pid
  pid="$(head -n 1 "$1/postmaster.pid" 2>/dev/null || true)"
  if [[ -n "$pid" ]] && pid_alive "$pid" postgres; then echo "$pid"; fi
}

# postgres_can_reach DIR: makes DIR's parents inside the repository traversable, then asks whether user postgres
# reaches DIR (a parent outside it, such as a 0700 home, may still stop it).
postgres_can_reach() {
  local dir="$1" d="$1"
  while [[ "$d" == "$REPO_ROOT" || "$d" == "$REPO_ROOT"/* ]]; do
    chmod o+x "$d"
    d="$(dirname "$d")"
  done
  as_postgres test -x "$dir"
}

# choose_pg_home STATE_DIR: the home of an earlier run, else STATE_DIR/postgres if reachable, else an outside one.
choose_pg_home() {
  local state home
  state="$(realpath -m "$1")" # user postgres resolves paths from /, and the hash must not depend on the spelling
  if [[ -s "$state/postgres.home" ]]; then
    cat "$state/postgres.home"
    return 0
  fi
  mkdir -p "$state/postgres"
  if postgres_can_reach "$state/postgres"; then
    echo "$state/postgres"
    return 0
  fi
  home="$PG_EXTERNAL_ROOT/$(printf '%s' "$state" | sha256sum | cut -c1-16)"
  log "user postgres cannot reach $state; PostgreSQL keeps its data in $home"
  rmdir "$state/postgres" 2>/dev/null || true
  mkdir -p "$home"
  chmod 755 "$PG_EXTERNAL_ROOT"
  echo "$state" >"$home/state-dir" # which state dir this belongs to, for whoever finds it there
  echo "$home" >"$state/postgres.home"
  echo "$home"
}

write_postgres_conf() {
  local data="$1" port="$2" sock="$3"
  # Unix socket paths are limited to 107 bytes; deep checkouts fall back to TCP only.
  if ((${#sock} + 20 > 107)); then
    log "socket path too long; PostgreSQL will listen on TCP only"
    sock=""
  fi
  grep -q "^include_if_exists = 'orleans_batch.conf'" "$data/postgresql.conf" ||
    echo "include_if_exists = 'orleans_batch.conf'" >>"$data/postgresql.conf"
  cat >"$data/orleans_batch.conf" <<CONF
# Written by scripts/lib.sh on every start.
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '${sock//\'/\'\'}'
max_connections = 200
shared_buffers = 256MB
synchronous_commit = ${BATCH_PG_SYNCHRONOUS_COMMIT:-on}
# Bulk writes: fewer checkpoints, so fewer full-page images in the WAL, and those compressed.
max_wal_size = 4GB
checkpoint_timeout = 15min
wal_compression = lz4
# New WAL segments are not zero-filled first (ext4 allocates them), and WAL is buffered for bursts.
wal_init_zero = off
wal_buffers = 16MB
CONF
  chown postgres: "$data/orleans_batch.conf"
}

# start_postgres STATE_DIR PORT
start_postgres() {
  local state port="$2" bin home data sock logfile
  state="$(realpath -m "$1")"
  bin="$(pg_bin)" || die "PostgreSQL server not installed (run ensure_tools)"

  stop_postgres "$state"
  mkdir -p "$state/logs"
  home="$(choose_pg_home "$state")"
  data="$home/data" sock="$home/sock" logfile="$state/logs/postgres.log"
  if [[ "$home" != "$state/postgres" ]]; then
    # The server writes its log next to its data; the state dir's log is a link to it, readable as before.
    logfile="$home/postgres.log"
    ln -sfn "$logfile" "$state/logs/postgres.log"
  fi
  mkdir -p "$data" "$sock"
  touch "$logfile"
  chown -R postgres: "$home" "$logfile"
  postgres_can_reach "$home" || die "user postgres cannot reach $home; make its parent directories traversable (chmod o+x)"
  postgres_can_reach "$(dirname "$logfile")" || die "user postgres cannot reach $(dirname "$logfile"); make its parent directories traversable (chmod o+x)"
  chmod 700 "$data" # after the above, which opens the folders it walks to others; PostgreSQL insists on 0700

  if [[ ! -f "$data/PG_VERSION" ]]; then
    log "initializing PostgreSQL data directory $data"
    as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale >>"$logfile" 2>&1 ||
      { tail -n 20 "$logfile" >&2; die "initdb failed"; }
  fi
  rm -f "$data/postmaster.pid" "$sock"/.s.PGSQL.* # stale after a crash; nothing is running now
  write_postgres_conf "$data" "$port" "$sock"

  log "starting PostgreSQL on 127.0.0.1:$port"
  as_postgres "$bin/pg_ctl" start -D "$data" -l "$logfile" -w -t 60 >/dev/null ||
    { tail -n 20 "$logfile" >&2; die "PostgreSQL did not start (log: $logfile)"; }
  postmaster_pid "$data" >"$state/postgres.pid"
}

# stop_postgres STATE_DIR
stop_postgres() {
  local state="$1" data bin
  data="$(pg_data_dir "$state")"
  if [[ -n "$(postmaster_pid "$data")" ]]; then
    log "stopping PostgreSQL ($data)"
    bin="$(pg_bin)"
    as_postgres "$bin/pg_ctl" stop -D "$data" -m fast -w -t 30 >/dev/null 2>&1 || true
  fi
  stop_pidfile "$state/postgres.pid" postgres
}

pg_psql() {
  local port="$1" db="$2"
  shift 2
  PGOPTIONS="-c client_min_messages=warning" "$(pg_bin)/psql" -v ON_ERROR_STOP=1 -q -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

# create_database PORT DBNAME [--fresh]
create_database() {
  local port="$1" db="$2" fresh="${3:-}"
  if [[ "$fresh" == --fresh ]]; then
    log "recreating database $db"
    pg_psql "$port" postgres -v db="$db" <<'SQL'
SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'db') \gexec
SQL
  fi
  pg_psql "$port" postgres -v db="$db" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
}

# apply_schema PORT DBNAME: every deploy/sql/*.sql, in name order.
apply_schema() {
  local port="$1" db="$2" file files=()
  [[ -d "$REPO_ROOT/deploy/sql" ]] &&
    mapfile -t files < <(find "$REPO_ROOT/deploy/sql" -maxdepth 1 -type f -name '*.sql' | LC_ALL=C sort)
  if ((${#files[@]} == 0)); then
    log "no deploy/sql/*.sql yet; skipping schema"
    return 0
  fi
  for file in "${files[@]}"; do
    log "applying ${file#"$REPO_ROOT"/} to $db"
    pg_psql "$port" "$db" -f "$file" >/dev/null
  done
}

# ---------------------------------------------------------------- redis

# start_redis STATE_DIR PORT: Redis keeps an append-only file in STATE_DIR/redis, fsynced every second, so a restart
# (or a crash of Redis alone) keeps the cluster's membership table; the silos also write their rows back if it is lost.
start_redis() {
  local state="$1" port="$2" pidfile="$1/redis.pid" logfile="$1/logs/redis.log" tenths=100
  stop_redis "$state"
  mkdir -p "$state/redis" "$state/logs"

  log "starting Redis on 127.0.0.1:$port"
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$state/redis" \
    --pidfile "$pidfile" --logfile "$logfile" --save '' --appendonly yes --appendfsync everysec
  until [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == PONG ]]; do
    if ((tenths-- == 0)); then
      tail -n 20 "$logfile" >&2 || true
      die "Redis did not answer on port $port (log: $logfile)"
    fi
    sleep 0.1
  done
  tenths=50
  until [[ -s "$pidfile" ]]; do
    ((tenths-- > 0)) || die "Redis wrote no pid file $pidfile"
    sleep 0.1
  done
}

# stop_redis STATE_DIR: SIGTERM makes Redis flush its append-only file before it exits.
stop_redis() { stop_pidfile "$1/redis.pid" redis-server; }

# ---------------------------------------------------------------- app

# wait_http URL TIMEOUT_S [PID]: poll until URL answers 200; give up early if PID dies.
wait_http() {
  local url="$1" timeout="$2" pid="${3:-}" deadline code
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)"
    [[ "$code" == 200 ]] && return 0
    if [[ -n "$pid" ]] && ! pid_alive "$pid"; then return 1; fi
    sleep 1
  done
  return 1
}

build_solution() {
  log "building Orleans.Batch.sln (Release)"
  (cd "$REPO_ROOT" && dotnet build Orleans.Batch.sln -c Release -nologo -v q)
}

# Stop whatever a previous run left behind in STATE_DIR: apps first, then Redis, PostgreSQL.
# port_in_use PORT: whether something on 127.0.0.1 accepts connections on PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# require_free_ports MOVE NAME:PORT...: dies naming each port another process already listens on (an earlier ./run.sh
# or ./test.sh, or a process left from one), instead of starting next to it or failing later without saying why; MOVE
# says how to choose other ports.
require_free_ports() {
  local move="$1" entry busy=()
  shift
  for entry in "$@"; do
    if port_in_use "${entry##*:}"; then busy+=("${entry%:*} ${entry##*:}"); fi
  done
  ((${#busy[@]} == 0)) && return 0
  local list
  list="$(IFS=,; echo "${busy[*]}")"
  die "port(s) already in use: ${list//,/, }. Another ./run.sh or ./test.sh (or a process left from one) holds them: stop it, or choose other ports ($move)."
}

stop_leftovers() {
  local state="$1" file
  for file in "$state"/*.pid; do
    [[ -e "$file" ]] || continue
    case "$(basename "$file")" in
      postgres.pid | redis.pid) ;;
      *) stop_pidfile "$file" Orleans.Batch ;;
    esac
  done
  stop_redis "$state"
  stop_postgres "$state"
}
