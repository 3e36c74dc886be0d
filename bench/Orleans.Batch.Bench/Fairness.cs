using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Orleans.Batch.Bench;

/// <summary>What the fairness scenario runs; sizes are options so a small version runs quickly.</summary>
internal sealed record FairnessOptions(
    Uri Url, string Postgres, string AdminKeyFile, int AImports, int ARows, int BSyncBatches, int BSyncSize, int BImportRows, bool KeepA, string? Markdown)
{
    public static FairnessOptions Parse(string[] args)
    {
        var values = BenchOptions.Pairs(args);
        int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        return new FairnessOptions(
            new Uri(values.GetValueOrDefault("url", "http://127.0.0.1:8080")),
            values.GetValueOrDefault("postgres", "Host=127.0.0.1;Port=15432;Username=postgres;Database=orleans_batch"),
            values.GetValueOrDefault("admin-key-file", ".run/admin-api-key"),
            Math.Max(1, Int("a-imports", 5)),
            Math.Max(1, Int("a-rows", 1_000_000)),
            Math.Max(1, Int("b-sync-batches", 200)),
            Math.Max(1, Int("b-sync-size", 100)),
            Math.Max(1, Int("b-import-rows", 100_000)),
            Int("keep-a", 0) != 0,
            values.GetValueOrDefault("markdown"));
    }
}

/// <summary>
/// Two tenants with equal weights, created through the admin API: A runs <see cref="FairnessOptions.AImports"/> large
/// imports at once while B sends sync batches (their latency against B's on an idle service) and then imports a file
/// of its own (its share of the rows imported while both run). A's imports are cancelled at the end unless kept.
/// </summary>
internal sealed class Fairness(FairnessOptions options)
{
    private readonly StringBuilder _report = new();

    public async Task<string> RunAsync()
    {
        var stamp = DateTime.UtcNow.ToString("MMddHHmmss", CultureInfo.InvariantCulture);
        using var admin = Client((await File.ReadAllTextAsync(options.AdminKeyFile)).Trim());
        using var a = Client(await CreateTenantAsync(admin, $"fair-a-{stamp}"));
        using var b = Client(await CreateTenantAsync(admin, $"fair-b-{stamp}"));
        _report.AppendLine(CultureInfo.InvariantCulture,
            $"Fairness, run at {DateTime.UtcNow:u} on {Environment.ProcessorCount} cores against {options.Url}: tenant A imports {options.AImports} x {options.ARows:N0} rows at once; tenant B, same weight, sends sync batches of {options.BSyncSize} creates and imports {options.BImportRows:N0} rows.");
        _report.AppendLine();
        _report.AppendLine("| measurement | result |");
        _report.AppendLine("|---|---|");

        var idle = await SyncBatches.LatencyAsync(b, options.BSyncBatches, options.BSyncSize, $"idle{stamp}");
        Row($"B's sync batches on an idle service, {options.BSyncBatches} runs", $"p50 {idle.P50:N0} ms, p99 {idle.P99:N0} ms");

        // A's uploads are not awaited: an import's work is mostly its upload (every row parsed and staged), so B is
        // measured while A uploads and runs, and throughput is what lands in the users table, tenant by tenant.
        var files = Enumerable.Range(0, options.AImports).Select(i => Csv.Write(options.ARows, $"fair{stamp}a{i}")).ToList();
        var bFile = Csv.Write(options.BImportRows, $"fair{stamp}b");
        await using var database = NpgsqlDataSource.Create(options.Postgres);
        var clock = Stopwatch.StartNew();
        var uploads = files.Select(file => StartImportAsync(a, file)).ToList();
        while (await RowsAsync(database, $"fair-a-{stamp}") < options.ARows / 10)
        {
            await Task.Delay(200);
        }

        Row($"A's first {options.ARows / 10:N0} rows landed", $"{clock.Elapsed.TotalSeconds:N1} s after its {options.AImports} uploads began");

        // B's import and its sync batches run together, both while A's uploads still run.
        var aBefore = await RowsAsync(database, $"fair-a-{stamp}");
        var window = Stopwatch.StartNew();
        // A's rows are counted the moment B's import ends, not after B's sync batches (which may run much longer).
        var bImport = Task.Run(async () =>
        {
            await WaitForEndAsync(b, await StartImportAsync(b, bFile));
            var seconds = window.Elapsed.TotalSeconds;
            var aRows = await RowsAsync(database, $"fair-a-{stamp}") - aBefore;
            var aRunning = uploads.Any(u => !u.IsCompleted) || await RunningAsync(a, uploads.Where(u => u.IsCompletedSuccessfully).Select(u => u.Result));
            return (seconds, aRows, aRunning);
        });
        var loaded = await SyncBatches.LatencyAsync(b, options.BSyncBatches, options.BSyncSize, $"loaded{stamp}");
        // B's loaded figures only count while A still uploads; a run where A finished first measured an idler service.
        var aUploadingAfterSync = uploads.Any(u => !u.IsCompleted);
        var (seconds, aRows, aStillRunning) = await bImport;
        var aRate = aRows / seconds;
        var bRate = options.BImportRows / seconds;
        Row($"B's sync batches while A's imports upload and run, {options.BSyncBatches} runs", $"p50 {loaded.P50:N0} ms, p99 {loaded.P99:N0} ms");
        Row("A still uploading when B's last sync batch ended", aUploadingAfterSync ? "yes" : "no: lower --b-sync-batches or raise --a-rows");
        Row("B's p99 loaded / idle (target at most 3)", $"{loaded.P99 / idle.P99:N2}");
        Row($"B's import of {options.BImportRows:N0} rows meanwhile (upload to completed)", $"{seconds:N1} s, {bRate:N0} rows/s");
        Row("A's imports over the same time (rows landed)", $"{aRate:N0} rows/s{(aStillRunning ? "" : " (A's imports ended before B's: the share below is too high)")}");
        Row("B's share of the cluster's import throughput (target at least 40 %)", $"{bRate / (aRate + bRate):P0}");
        var imports = await Task.WhenAll(uploads);
        Row($"A's {options.AImports} uploads accepted (every row staged)", $"{clock.Elapsed.TotalSeconds:N1} s after they began");

        if (!options.KeepA)
        {
            foreach (var import in imports)
            {
                using var _ = await a.PostAsync($"/batch/{import}/cancel", null);
            }
        }

        files.Append(bFile).ToList().ForEach(File.Delete);
        return _report.ToString();
    }

    private HttpClient Client(string key)
    {
        var http = new HttpClient { BaseAddress = options.Url, Timeout = TimeSpan.FromHours(1) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    /// <summary>A new tenant and a writer key of it, through the admin API.</summary>
    private static async Task<string> CreateTenantAsync(HttpClient admin, string id)
    {
        using var created = await admin.PostAsJsonAsync("/admin/tenants", new { id, name = $"Fairness bench {id}" });
        await EnsureAsync(created, $"POST /admin/tenants {id}");
        using var key = await admin.PostAsJsonAsync($"/admin/tenants/{id}/keys", new { role = "writer" });
        return JsonDocument.Parse(await EnsureAsync(key, $"POST /admin/tenants/{id}/keys")).RootElement.GetProperty("key").GetString()!;
    }

    /// <summary>Uploads a users CSV; returns its batch id once accepted.</summary>
    private static async Task<string> StartImportAsync(HttpClient http, string path)
    {
        await using var file = File.OpenRead(path);
        using var content = new StreamContent(file, 1 << 16);
        content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        using var response = await http.PostAsync("/batch/users/import", content);
        return JsonDocument.Parse(await EnsureAsync(response, "an import")).RootElement.GetProperty("batchId").GetString()!;
    }

    /// <summary>Waits for the import to end completed; returns its rows.</summary>
    private static async Task<int> WaitForEndAsync(HttpClient http, string batchId)
    {
        while (true)
        {
            var status = await StatusAsync(http, batchId, wait: 30);
            switch (status.GetProperty("status").GetString())
            {
                case "completed":
                    return status.GetProperty("succeeded").GetInt32();
                case "failed" or "cancelled":
                    throw new InvalidOperationException($"Import {batchId} ended: {status}");
            }
        }
    }

    /// <summary>The users rows <paramref name="tenant"/> holds.</summary>
    private static async Task<long> RowsAsync(NpgsqlDataSource database, string tenant)
    {
        await using var command = database.CreateCommand("SELECT count(*) FROM users WHERE tenant_id = $1");
        command.Parameters.AddWithValue(tenant);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<bool> RunningAsync(HttpClient http, IEnumerable<string> batchIds)
    {
        foreach (var id in batchIds)
        {
            if ((await StatusAsync(http, id, wait: 0)).GetProperty("status").GetString() == "processing")
            {
                return true;
            }
        }

        return false;
    }

    private static async Task<JsonElement> StatusAsync(HttpClient http, string batchId, int wait)
    {
        using var response = await http.GetAsync($"/batch/{batchId}/status?wait={wait}");
        return JsonDocument.Parse(await EnsureAsync(response, $"the status of {batchId}")).RootElement;
    }

    private static async Task<string> EnsureAsync(HttpResponseMessage response, string what)
    {
        var body = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode ? body : throw new InvalidOperationException($"{what} answered {(int)response.StatusCode}: {body}");
    }

    private void Row(string what, string result) => _report.AppendLine(CultureInfo.InvariantCulture, $"| {what} | {result} |");
}
