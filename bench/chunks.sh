#!/usr/bin/env bash
# The chunk path of an import alone (encode, decode, run the creates with their result runs), in one process against
# the running service's PostgreSQL (start ./run.sh first; the silos may idle meanwhile), with server GC as the
# silos run. Options, with defaults:
#   --postgres "Host=127.0.0.1;Port=15432;Username=postgres;Database=orleans_batch"
#   --import-rows 100000  --chunk-size 500  --concurrency 16  --rounds 12
#   --database-concurrency 16 (Database:MaxConcurrency)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dotnet build bench/Orleans.Batch.Bench -c Release -nologo -v q >/dev/null
DOTNET_gcServer=1 exec dotnet bench/Orleans.Batch.Bench/bin/Release/net10.0/Orleans.Batch.Bench.dll chunks "$@"
