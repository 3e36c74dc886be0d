#!/usr/bin/env bash
# Measures the running service (start it first with ./run.sh). Options, with defaults:
#   --url http://127.0.0.1:8080   --postgres "Host=127.0.0.1;Port=15432;Username=postgres;Database=orleans_batch"
#   --state .run  --import-rows 100000  --single-requests 20000  --single-connections 32
#   --sync-batches 200  --large-import-rows 1000000 (0 skips it)  --repeats 5 (imports and COPYs, in turns, each on a quiet database; medians)
#   --markdown FILE (also write the table there)
#   --key-file STATE/dev-api-key (the API key ./run.sh wrote; every request sends it)
#   --admin-key-file STATE/admin-api-key --tenant dev (the operator key lifts the tenant's rate and active-batch quotas first)
# bench/run.sh fairness [options]: tenant A's large imports against tenant B's sync batches and import (see Fairness.cs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dotnet build bench/Orleans.Batch.Bench -c Release -nologo -v q >/dev/null
exec dotnet bench/Orleans.Batch.Bench/bin/Release/net10.0/Orleans.Batch.Bench.dll "$@"
