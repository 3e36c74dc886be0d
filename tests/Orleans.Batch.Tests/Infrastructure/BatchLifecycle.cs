using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>Following a batch over HTTP: its status until it ends, and every page of its results.</summary>
public static class BatchLifecycle
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static readonly string[] TerminalStatuses = ["completed", "failed", "cancelled"];

    /// <summary>A create-user operation of a batch; with <paramref name="idempotencyKey"/> when given.</summary>
    public static object CreateUser(string id, string email, string? idempotencyKey = null) => idempotencyKey is null
        ? new { id, method = "POST", path = "/users", body = new { email, name = "Batch User" } }
        : new { id, method = "POST", path = "/users", body = new { email, name = "Batch User" }, idempotencyKey };

    /// <summary>GET /batch/{id}/status, asserted 200 JSON; returns the body.</summary>
    public static async Task<JsonElement> StatusAsync(this BatchApi api, string batchId) =>
        ApiAssert.Json(await api.GetAsync($"/batch/{batchId}/status"), HttpStatusCode.OK);

    /// <summary>Polls the status until <paramref name="until"/> holds; every status read is added to <paramref name="seen"/>.</summary>
    public static async Task<JsonElement> WaitForAsync(
        this BatchApi api, string batchId, Func<JsonElement, bool> until, List<JsonElement>? seen = null, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var status = await api.StatusAsync(batchId);
            seen?.Add(status);
            if (until(status))
            {
                return status;
            }

            Assert.True(clock.Elapsed < (timeout ?? DefaultTimeout), $"Batch {batchId} did not get there in time; last status: {status}");
            await Task.Delay(20);
        }
    }

    /// <summary>Polls the status until the batch has ended; returns the final status.</summary>
    public static Task<JsonElement> WaitUntilEndedAsync(this BatchApi api, string batchId, List<JsonElement>? seen = null) =>
        api.WaitForAsync(batchId, s => TerminalStatuses.Contains(s.GetProperty("status").GetString()), seen);

    /// <summary>Every item of <c>GET /batch/{id}/results</c>, following nextCursor; <paramref name="query"/> is added to each request.</summary>
    public static async Task<List<JsonElement>> AllResultsAsync(this BatchApi api, string batchId, string query = "", int limit = 1000)
    {
        var items = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = ApiAssert.Json(
                await api.GetAsync($"/batch/{batchId}/results?limit={limit}{query}" + (cursor is null ? "" : $"&cursor={cursor}")),
                HttpStatusCode.OK);
            items.AddRange(page.GetProperty("items").EnumerateArray());
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);

        return items;
    }

    /// <summary>The batch id an accepted or answered submission names.</summary>
    public static string BatchId(this ApiResponse response) => response.Json.GetProperty("batchId").GetString()!;

    public static int Int(this JsonElement json, string property) => json.GetProperty(property).GetInt32();

    public static string? Str(this JsonElement json, string property) => json.GetProperty(property).GetString();
}
