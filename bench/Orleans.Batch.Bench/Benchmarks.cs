using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Orleans.Batch.Bench;

/// <summary>The measurements docs/PERFORMANCE.md reports, run one after another against the same PostgreSQL.</summary>
internal sealed class Benchmarks(BenchOptions options)
{
    private readonly HttpClient _http = options.Client(TimeSpan.FromHours(1));
    private readonly StringBuilder _report = new();

    /// <summary>
    /// The bench measures throughput, not quotas: with the operator's key it lifts the rate and active-batch quotas of the
    /// tenant it runs as (the default 200 requests/s would refuse most single requests).
    /// </summary>
    private async Task LiftQuotasAsync()
    {
        if (options.AdminKey.Length == 0)
        {
            Console.WriteLine($"no admin key: tenant {options.Tenant}'s quotas apply");
            return;
        }

        using var admin = options.AdminClient();
        using var response = await admin.PutAsJsonAsync(
            $"/admin/tenants/{options.Tenant}/quotas", new { requestsPerSecond = 1_000_000, burst = 1_000_000, activeBatches = 10_000 });
        response.EnsureSuccessStatusCode();
        _report.AppendLine(CultureInfo.InvariantCulture, $"Tenant {options.Tenant}'s rate and active-batch quotas lifted for the run.");
        _report.AppendLine();
    }

    public async Task<string> RunAllAsync()
    {
        _report.AppendLine(CultureInfo.InvariantCulture, $"Run at {DateTime.UtcNow:u} on {Environment.ProcessorCount} cores, {Memory()}, against {options.Url}.");
        _report.AppendLine();
        await LiftQuotasAsync();
        // The first imports JIT-compile every silo's paths, and tiered compilation recompiles the hot ones over the
        // next several: their figures would measure start-up, not the service. At least twelve imports of the measured
        // size run (on a fresh service the compiler threads still spent 0.2-0.6 CPU-seconds an import at the ninth to
        // twelfth, about 0.1 after), then more until two in a row agree within a tenth (at most sixteen).
        var warmups = new List<double>();
        while (warmups.Count < 16 && (warmups.Count < 12 || Math.Abs(warmups[^1] - warmups[^2]) > 0.1 * warmups[^2]))
        {
            await QuietAsync();
            warmups.Add((await ImportAsync(Math.Max(1, options.ImportRows), $"warmup{warmups.Count}")).RowsPerSecond);
        }

        _report.AppendLine("| measurement | result |");
        _report.AppendLine("|---|---|");
        // The import and COPY take turns, so a slower spell of a shared machine falls on both; each figure is the median.
        var imports = new List<ImportMeasurement>();
        var copies = new List<double>();
        for (var i = 0; i < options.Repeats; i++)
        {
            await QuietAsync();
            imports.Add(await ImportAsync(options.ImportRows, $"import{i}"));
            await QuietAsync();
            copies.Add(await CopyFloorAsync(options.ImportRows));
        }

        Row($"warm-up imports of {options.ImportRows:N0} before the measured ones (not counted)",
            $"{string.Join(", ", warmups.Select(w => w.ToString("N0", CultureInfo.InvariantCulture)))} rows/s");
        var import = imports.OrderBy(m => m.RowsPerSecond).ElementAt(imports.Count / 2);
        var copy = copies.Order().ElementAt(copies.Count / 2);
        Row($"CSV import of {options.ImportRows:N0} users through the service (submit to completed), median of {options.Repeats}",
            $"{import.RowsPerSecond:N0} rows/s ({string.Join(", ", imports.Select(m => m.RowsPerSecond.ToString("N0", CultureInfo.InvariantCulture)))})");
        Row($"COPY of the same {options.ImportRows:N0} rows straight into users (the floor), median of {options.Repeats}",
            $"{copy:N0} rows/s ({string.Join(", ", copies.Select(c => c.ToString("N0", CultureInfo.InvariantCulture)))})");
        await QuietAsync();
        var single = await SingleRequestsAsync(options.SingleRequests, options.SingleConnections);
        Row($"{options.SingleRequests:N0} single POST /users over {options.SingleConnections} connections", $"{single:N0} rows/s");
        await QuietAsync();
        var (p50, p99) = await SyncBatches.LatencyAsync(_http, options.SyncBatches, 100, Csv.Tag("sync"));
        Row($"sync batch of 100 POST /users, {options.SyncBatches} runs", $"p50 {p50:N0} ms, p99 {p99:N0} ms");
        Row("import / COPY", $"{import.RowsPerSecond / copy:P0}");
        Row("import / single requests", single > 0 ? $"{import.RowsPerSecond / single:N1}x" : "not measured (--single-requests 0)");
        await QuietAsync();
        var small = await ImportAsync(Math.Max(1, options.ImportRows / 10), "small");
        ImportMeasurement? large = null;
        if (options.LargeImportRows > 0)
        {
            await QuietAsync();
            using var sampler = new RssSampler(options.RunState);
            large = await ImportAsync(options.LargeImportRows, "large");
            Row($"CSV import of {options.LargeImportRows:N0} users", $"{large.RowsPerSecond:N0} rows/s");
            foreach (var (process, peak) in sampler.Peaks())
            {
                Row($"peak RSS of {process} during it", $"{peak / (1024 * 1024):N0} MiB");
            }
        }

        _report.AppendLine();
        _report.AppendLine("Each import: the upload (until the 202: every row parsed and staged) and the run after it, and what it");
        _report.AppendLine("wrote per item: the batch grain's checkpoint (its stored state: size, times written) and all of");
        _report.AppendLine("PostgreSQL's WAL during the import (items staged, users inserted, results recorded).");
        _report.AppendLine();
        _report.AppendLine("| rows | rows/s | upload (staged) | then run | grain state | state writes | checkpoint bytes per item | WAL bytes per item |");
        _report.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var m in new[] { small, import, large }.OfType<ImportMeasurement>())
        {
            _report.AppendLine(CultureInfo.InvariantCulture,
                $"| {m.Rows:N0} | {m.RowsPerSecond:N0} | {m.Upload.TotalSeconds:N2} s | {m.Elapsed.TotalSeconds - m.Upload.TotalSeconds:N2} s | {m.StateBytes} bytes | {m.StateWrites:N0} | {(double)m.StateBytes * m.StateWrites / m.Rows:N2} | {(double)m.WalBytes / m.Rows:N0} |");
        }

        return _report.ToString();
    }

    private async Task<ImportMeasurement> ImportAsync(int rows, string what)
    {
        var path = Csv.Write(rows, Csv.Tag(what));
        await using var connection = new NpgsqlConnection(options.Postgres);
        await connection.OpenAsync();
        var (startLsn, startedAt) = await ScalarsAsync<long, DateTime>(connection, "SELECT pg_current_wal_lsn() - '0/0', now()");
        var clock = Stopwatch.StartNew();
        await using var file = File.OpenRead(path);
        using var content = new StreamContent(file, 1 << 16);
        content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        using var response = await _http.PostAsync("/batch/users/import", content);
        var uploaded = clock.Elapsed;
        var accepted = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"The import answered {(int)response.StatusCode}: {accepted}");
        }

        var statusUrl = accepted.GetProperty("statusUrl").GetString()!;
        // A stalled import ends the bench instead of hanging it: no import here needs a millisecond per row.
        var deadline = TimeSpan.FromMinutes(5) + TimeSpan.FromMilliseconds(rows);
        while (true)
        {
            if (clock.Elapsed > deadline)
            {
                throw new TimeoutException($"The import of {rows:N0} rows did not end within {deadline.TotalMinutes:N0} minutes.");
            }

            // The status answers as soon as the import ends (or after the wait with where it stands): no polling interval on the clock.
            var status = JsonDocument.Parse(await _http.GetStringAsync(statusUrl + "?wait=30")).RootElement;
            var state = status.GetProperty("status").GetString();
            if (state is "completed" or "failed" or "cancelled")
            {
                var succeeded = status.GetProperty("succeeded").GetInt32();
                if (state != "completed" || succeeded != rows)
                {
                    throw new InvalidOperationException($"The import ended {state} with {succeeded} of {rows} rows: {status}");
                }

                break;
            }
        }

        var elapsed = clock.Elapsed;
        File.Delete(path);
        var walBytes = (await ScalarsAsync<long, long>(connection, "SELECT pg_current_wal_lsn() - '0/0', 0")).Item1 - startLsn;
        // The batch grain whose state was written last since the import began: this import's (nothing else runs meanwhile).
        await using var stateQuery = new NpgsqlCommand(
            "SELECT length(payloadbinary), version FROM orleans_storage WHERE graintypestring = 'batch' AND modifiedon >= @since ORDER BY modifiedon DESC LIMIT 1",
            connection);
        stateQuery.Parameters.AddWithValue("since", startedAt);
        await using var reader = await stateQuery.ExecuteReaderAsync();
        var (stateBytes, stateWrites) = await reader.ReadAsync() ? (reader.GetInt32(0), reader.GetInt32(1)) : (0, 0);
        return new ImportMeasurement(rows, rows / elapsed.TotalSeconds, uploaded, elapsed, stateBytes, stateWrites, walBytes);
    }

    /// <summary>
    /// Starts a measurement on a quiet database: the rows the last one wrote are vacuumed and the dirty pages it left
    /// written (a checkpoint), and no autovacuum worker still runs (waiting at most half a minute). Either would
    /// otherwise land on the next measurement's clock, whichever it is: an autovacuum of users took a whole CPU-second
    /// of one import.
    /// </summary>
    private async Task QuietAsync()
    {
        await using var connection = new NpgsqlConnection(options.Postgres);
        await connection.OpenAsync();
        foreach (var sql in new[] { "VACUUM (ANALYZE)", "CHECKPOINT" })
        {
            await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 600 };
            await command.ExecuteNonQueryAsync();
        }

        await using var vacuums = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'", connection);
        for (var waited = 0; waited < 300 && (long)(await vacuums.ExecuteScalarAsync())! > 0; waited++)
        {
            await Task.Delay(100);
        }
    }

    private static async Task<(T1, T2)> ScalarsAsync<T1, T2>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetFieldValue<T1>(0), reader.GetFieldValue<T2>(1));
    }

    private async Task<double> CopyFloorAsync(int rows)
    {
        var tag = Csv.Tag("copy");
        await using var connection = new NpgsqlConnection(options.Postgres);
        await connection.OpenAsync();
        var clock = Stopwatch.StartNew();
        await using (var writer = await connection.BeginTextImportAsync("COPY users (tenant_id, email, name) FROM STDIN (FORMAT csv)"))
        {
            for (var i = 1; i <= rows; i++)
            {
                await writer.WriteAsync($"default,{tag}-{i}@bench.example.com,Bench User {i}\n");
            }
        }

        return rows / clock.Elapsed.TotalSeconds;
    }

    private async Task<double> SingleRequestsAsync(int requests, int connections)
    {
        var tag = Csv.Tag("single");
        var next = 0;
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, connections).Select(async _ =>
        {
            using var http = options.Client();
            int i;
            while ((i = Interlocked.Increment(ref next)) <= requests)
            {
                using var body = new StringContent($"{{\"email\":\"{tag}-{i}@bench.example.com\",\"name\":\"Bench User {i}\"}}", Encoding.UTF8, "application/json");
                using var response = await http.PostAsync("/users", body);
                if ((int)response.StatusCode != 201)
                {
                    throw new InvalidOperationException($"POST /users answered {(int)response.StatusCode}");
                }
            }
        });
        await Task.WhenAll(workers);
        return requests / clock.Elapsed.TotalSeconds;
    }

    private void Row(string what, string result) => _report.AppendLine(CultureInfo.InvariantCulture, $"| {what} | {result} |");

    private static string Memory()
    {
        var total = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        var kib = long.Parse(total.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return $"{kib / (1024 * 1024)} GiB";
    }
}

/// <summary>
/// One import: its speed, how long the upload took (until the 202, every row staged) out of the whole, its batch
/// grain's stored state (bytes, times written) and the WAL it caused.
/// </summary>
internal sealed record ImportMeasurement(
    int Rows, double RowsPerSecond, TimeSpan Upload, TimeSpan Elapsed, int StateBytes, int StateWrites, long WalBytes);
