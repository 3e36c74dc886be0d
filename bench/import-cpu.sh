#!/usr/bin/env bash
# One CSV import of N users (default 100000) against a running ./run.sh: wall time, and the CPU seconds each part
# of the service spent on it (gateway, each silo, PostgreSQL), read from /proc before and after.
#   bench/import-cpu.sh [ROWS] [--url http://127.0.0.1:8080] [--concurrency N] [--key-file .run/dev-api-key]
set -euo pipefail
rows=100000 url=http://127.0.0.1:8080 concurrency="" key_file="$(dirname "${BASH_SOURCE[0]}")/../.run/dev-api-key"
while (($#)); do
  case "$1" in
    --url) url="$2"; shift 2 ;;
    --concurrency) concurrency="?concurrency=$2"; shift 2 ;;
    --key-file) key_file="$2"; shift 2 ;;
    *) rows="$1"; shift ;;
  esac
done
auth="Authorization: Bearer $(<"$key_file")"

file="$(mktemp --suffix=.csv)"
trap 'rm -f "$file"' EXIT
tag="cpu$(date +%s%N)"
{ echo email,name; for ((i = 1; i <= rows; i++)); do echo "$tag-$i@bench.example.com,Bench User $i"; done; } >"$file"

# "name ticks" for the gateway, each silo (by pid) and all of PostgreSQL's processes.
snapshot() {
  local pid cmd name
  for pid in $(pgrep -f 'Orleans.Batch.(Silo|Gateway).dll') $(pgrep -u postgres postgres); do
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || continue
    case "$cmd" in
      *Gateway.dll*) name=gateway ;;
      *Silo.dll*) name="silo-$pid" ;;
      *) name=postgres ;;
    esac
    awk -v n="$name" '{ print n, $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || true
  done | awk '{ t[$1] += $2 } END { for (k in t) print k, t[k] }' | sort
}

# One string field of a JSON answer, without starting an interpreter per poll (that would cost the service CPU).
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

before="$(snapshot)"
start=$(date +%s.%N)
id="$(curl -sf -X POST "$url/batch/users/import$concurrency" -H "$auth" -H 'content-type: text/csv' --data-binary @"$file" | field batchId)"
uploaded=$(date +%s.%N)
while status="$(curl -sf -H "$auth" "$url/batch/$id/status?wait=30" | field status)"; [[ $status == pending || $status == processing ]]; do
  sleep 0.05
done
end=$(date +%s.%N)
after="$(snapshot)"

awk -v r="$rows" -v s="$start" -v u="$uploaded" -v e="$end" -v st="$status" \
  'BEGIN { printf "%s: %d rows in %.2f s (upload %.2f s), %.0f rows/s\n", st, r, e - s, u - s, r / (e - s) }'
join <(echo "$before") <(echo "$after") | awk -v hz="$(getconf CLK_TCK)" '{ printf "  %-12s %.2f CPU-s\n", $1, ($3 - $2) / hz }'
