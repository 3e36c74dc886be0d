using System.Globalization;

namespace Orleans.Batch.Bench;

/// <summary>What to measure and against what; every value has a default matching ./run.sh.</summary>
internal sealed record BenchOptions(
    Uri Url,
    string Postgres,
    string RunState,
    int ImportRows,
    int SingleRequests,
    int SingleConnections,
    int SyncBatches,
    int LargeImportRows,
    int Repeats,
    string? Markdown,
    int ChunkSize,
    int ChunkConcurrency,
    int Rounds,
    int DatabaseConcurrency,
    string ApiKey,
    string AdminKey,
    string Tenant)
{
    public static BenchOptions Parse(string[] args)
    {
        var values = Pairs(args);
        int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var state = values.GetValueOrDefault("state", ".run");
        return new BenchOptions(
            new Uri(values.GetValueOrDefault("url", "http://127.0.0.1:8080")),
            values.GetValueOrDefault("postgres", "Host=127.0.0.1;Port=15432;Username=postgres;Database=orleans_batch"),
            state,
            Int("import-rows", 100_000),
            Int("single-requests", 20_000),
            Int("single-connections", 32),
            Int("sync-batches", 200),
            Int("large-import-rows", 1_000_000),
            Math.Max(1, Int("repeats", 5)),
            values.GetValueOrDefault("markdown"),
            Math.Max(1, Int("chunk-size", 500)),
            Math.Max(1, Int("concurrency", 16)),
            Math.Max(1, Int("rounds", 12)),
            Math.Max(1, Int("database-concurrency", 16)),
            ReadKey(values.GetValueOrDefault("key-file", Path.Combine(state, "dev-api-key"))),
            ReadKey(values.GetValueOrDefault("admin-key-file", Path.Combine(state, "admin-api-key"))),
            values.GetValueOrDefault("tenant", "dev"));
    }

    /// <summary>The API key ./run.sh wrote (a writer key of tenant dev); empty when the file is missing (the chunk path needs none).</summary>
    private static string ReadKey(string file) => File.Exists(file) ? File.ReadAllText(file).Trim() : "";

    /// <summary>A client of the service that sends the operator's <see cref="AdminKey"/>.</summary>
    public HttpClient AdminClient()
    {
        var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(100) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminKey);
        return http;
    }

    /// <summary>A client of the service that sends <see cref="ApiKey"/>.</summary>
    public HttpClient Client(TimeSpan? timeout = null)
    {
        var http = new HttpClient { BaseAddress = Url, Timeout = timeout ?? TimeSpan.FromSeconds(100) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ApiKey);
        return http;
    }

    /// <summary>The <c>--name value</c> pairs of the command line.</summary>
    internal static Dictionary<string, string> Pairs(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            values[args[i].TrimStart('-')] = args[i + 1];
        }

        return values;
    }
}
