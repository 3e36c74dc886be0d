#!/usr/bin/env bash
# The process-level chaos test (not part of ./test.sh; a few minutes): starts its own ./run.sh --silos 3 on ports of
# its own (--port-base, default 24000) with state in .run/chaos, then
#   (a) 10 concurrent 20,000-row imports, each re-sent with its Idempotency-Key until accepted, while a silo is
#       SIGKILLed every 4 s for 30 s;
#   (b) a 100,000-row import with PostgreSQL stopped for 20 s;
#   (c) Redis restarted with its data gone, a silo killed, then a 20,000-row import;
# and checks that every batch completed with every row and the users table holds each sent row exactly once.
# Exit 0: nothing lost; 1: something lost; 2: it could not run. BATCH_RUN_SKIP_BUILD=1 skips the build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

ensure_tools
if [[ "${BATCH_RUN_SKIP_BUILD:-}" == 1 ]]; then log "skipping the build (BATCH_RUN_SKIP_BUILD=1)"; else build_solution; fi
exec dotnet tests/Orleans.Batch.Chaos/bin/Release/net10.0/Orleans.Batch.Chaos.dll "$@"
