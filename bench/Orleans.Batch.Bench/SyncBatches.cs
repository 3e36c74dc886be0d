using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Orleans.Batch.Bench;

/// <summary>Sync batches of user creates, one after another: their latency's median and 99th percentile.</summary>
internal static class SyncBatches
{
    public static async Task<(double P50, double P99)> LatencyAsync(HttpClient http, int runs, int size, string tag)
    {
        var latencies = new List<double>(runs);
        for (var run = 0; run < runs; run++)
        {
            var operations = Enumerable.Range(0, size).Select(i => new
            {
                id = $"op{i}",
                method = "POST",
                path = "/users",
                body = new { email = $"{tag}-{run}-{i}@bench.example.com", name = "Bench User" },
            });
            using var body = new StringContent(JsonSerializer.Serialize(new { mode = "sync", operations }), Encoding.UTF8, "application/json");
            var clock = Stopwatch.StartNew();
            using var response = await http.PostAsync("/batch", body);
            await response.Content.ReadAsByteArrayAsync();
            latencies.Add(clock.Elapsed.TotalMilliseconds);
            if ((int)response.StatusCode != 200)
            {
                throw new InvalidOperationException($"The sync batch answered {(int)response.StatusCode}");
            }
        }

        latencies.Sort();
        return (latencies[(int)(latencies.Count * 0.50)], latencies[Math.Min(latencies.Count - 1, (int)(latencies.Count * 0.99))]);
    }
}
