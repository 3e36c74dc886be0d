#!/usr/bin/env bash
# The chunk path of an import alone (encode, decode, run the creates with their result runs), in one process against
# the running service's PostgreSQL (start ./run.sh first; the silos may idle meanwhile). Options, with defaults:
#   --postgres "Host=127.0.0.1;Port=55432;Username=postgres;Database=orleans_batch;Maximum Pool Size=50"
#   --rows 100000  --chunk-size 500  --concurrency 16  --rounds 12
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dotnet build bench/Orleans.Batch.Bench.Chunks -c Release -nologo -v q >/dev/null
exec dotnet bench/Orleans.Batch.Bench.Chunks/bin/Release/net10.0/Orleans.Batch.Bench.Chunks.dll "$@"
