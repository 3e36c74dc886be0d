using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Orleans.Batch.Tests.Infrastructure;
using static Orleans.Batch.Tests.Infrastructure.BatchLifecycle;

namespace Orleans.Batch.Tests.Gateway;

/// <summary><c>GET /batch/{id}/results</c>: paging, outcome filters, CSV and NDJSON downloads.</summary>
[Collection(ClusterCollection.Name)]
public sealed class BatchResultsTests(ClusterFixture fixture)
{
    private static readonly string[] BatchCsvColumns = ["id", "status", "outcome", "location", "result", "error"];

    private readonly BatchApi _api = new(fixture.Http);

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(25)]
    [InlineData(1000)]
    public async Task Paging_ReturnsEveryItemExactlyOnceInRequestOrder(int limit)
    {
        var (batchId, _) = await SubmitMixedAsync(25);

        var ids = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = ApiAssert.Json(
                await _api.GetAsync($"/batch/{batchId}/results?limit={limit}" + (cursor is null ? "" : $"&cursor={cursor}")), HttpStatusCode.OK);
            Assert.Equal(["batchId", "status", "total", "items", "nextCursor"], ApiAssert.PropertyNames(page));
            Assert.Equal(batchId, page.Str("batchId"));
            Assert.Equal("completed", page.Str("status"));
            Assert.Equal(25, page.Int("total"));
            var items = page.GetProperty("items").EnumerateArray().ToList();
            Assert.InRange(items.Count, 0, limit);
            foreach (var item in items)
            {
                var status = item.Int("status");
                Assert.Equal(status is >= 200 and < 300 ? "succeeded" : "failed", item.Str("outcome"));
            }

            ids.AddRange(items.Select(i => i.Str("id")!));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
            Assert.True(pages <= 26, "nextCursor never ran out.");
        }
        while (cursor is not null);

        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"r{i}"), ids);
    }

    [Fact]
    public async Task Paging_WithoutLimit_UsesTheDefaultPageSize()
    {
        var token = Unique.Token();
        var operations = Enumerable.Range(0, 101).Select(i => CreateUser($"d{i}", $"default{i}-{token}@example.com")).ToArray();
        var batchId = (await _api.PostAsync("/batch", new { mode = "sync", operations })).BatchId();

        var first = ApiAssert.Json(await _api.GetAsync($"/batch/{batchId}/results"), HttpStatusCode.OK);
        var second = ApiAssert.Json(await _api.GetAsync($"/batch/{batchId}/results?cursor={first.Str("nextCursor")}"), HttpStatusCode.OK);

        Assert.Equal(100, first.GetProperty("items").GetArrayLength());
        Assert.Equal("d100", Assert.Single(second.GetProperty("items").EnumerateArray()).Str("id"));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("nextCursor").ValueKind);
    }

    [Fact]
    public async Task StatusFilter_ReturnsOnlyItemsOfThatOutcome_InOrder_AcrossPages()
    {
        var (batchId, failing) = await SubmitMixedAsync(25);

        var failed = await _api.AllResultsAsync(batchId, "&status=failed", limit: 2);
        var succeeded = await _api.AllResultsAsync(batchId, "&status=succeeded", limit: 3);
        var cancelled = await _api.AllResultsAsync(batchId, "&status=cancelled");

        Assert.Equal(failing.Select(i => $"r{i}"), failed.Select(i => i.Str("id")));
        Assert.All(failed, i => Assert.Equal(("failed", 400), (i.Str("outcome"), i.Int("status"))));
        Assert.All(failed, i => Assert.Equal(400, i.GetProperty("error").Int("status")));
        Assert.Equal(Enumerable.Range(0, 25).Except(failing).Select(i => $"r{i}"), succeeded.Select(i => i.Str("id")));
        Assert.All(succeeded, i => Assert.Equal(("succeeded", 201), (i.Str("outcome"), i.Int("status"))));
        Assert.Empty(cancelled);
    }

    [Theory]
    [InlineData("status=pending", "status")]
    [InlineData("status=done", "status")]
    [InlineData("status=", "status")]
    [InlineData("format=xml", "format")]
    [InlineData("format=", "format")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=-5", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=2.5", "limit")]
    [InlineData("limit=", "limit")]
    [InlineData("limit=99999999999", "limit")]
    [InlineData("cursor=abc", "cursor")]
    [InlineData("cursor=-1", "cursor")]
    [InlineData("cursor=1.5", "cursor")]
    public async Task InvalidQuery_Returns400NamingTheParameter(string query, string field)
    {
        var batchId = (await _api.BatchAsync(CreateUser("a", Unique.Email()))).BatchId();

        ApiAssert.Problem(await _api.GetAsync($"/batch/{batchId}/results?{query}"), HttpStatusCode.BadRequest, "validation", field);
    }

    [Fact]
    public async Task Results_WhileTheBatchRuns_AreReadable_InEveryFormat()
    {
        var token = Unique.Token();
        var emails = Enumerable.Range(0, 20).Select(i => $"running{i}-{token}@example.com").ToList();
        await using var hold = await UserInsertHold.AcquireAsync(fixture.Database, emails[10], fixture.Tenant);
        var batchId = (await _api.PostAsync("/batch", new
        {
            mode = "async", concurrency = 1, operations = emails.Select((e, i) => CreateUser($"w{i}", e)).ToArray(),
        })).BatchId();
        await hold.WaitUntilBlockingAsync(fixture.Database);

        var page = ApiAssert.Json(await _api.GetAsync($"/batch/{batchId}/results"), HttpStatusCode.OK);
        var csv = await DownloadAsync($"/batch/{batchId}/results?format=csv");
        var ndjson = await DownloadAsync($"/batch/{batchId}/results?format=ndjson");

        Assert.Equal("processing", page.Str("status"));
        var items = page.GetProperty("items").EnumerateArray().ToList();
        Assert.InRange(items.Count, 0, 10);
        Assert.Equal(Enumerable.Range(0, items.Count).Select(i => $"w{i}"), items.Select(i => i.Str("id")));
        Assert.All(items, i => Assert.Equal("succeeded", i.Str("outcome")));
        Assert.Equal("text/csv", csv.ContentType);
        Assert.Equal(BatchCsvColumns, Csv.Parse(csv.Text)[0]);
        Assert.Equal("application/x-ndjson", ndjson.ContentType);

        await hold.ReleaseAsync();
        Assert.Equal("completed", (await _api.WaitUntilEndedAsync(batchId)).Str("status"));
        Assert.Equal(20, (await _api.AllResultsAsync(batchId)).Count);
    }

    [Theory]
    [InlineData("?format=csv", null)]
    [InlineData("?format=CSV", null)]
    [InlineData("", "text/csv")]
    [InlineData("", "application/json;q=0.5, text/csv")]
    public async Task Csv_HasAHeaderRowAndOneRowPerItemInOrder(string query, string? accept)
    {
        var (batchId, failing) = await SubmitMixedAsync(12);
        var json = await _api.AllResultsAsync(batchId);

        var response = await DownloadAsync($"/batch/{batchId}/results{query}", accept);

        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.Equal("text/csv", response.ContentType);
        Assert.Equal($"attachment; filename=\"batch-{batchId}-results.csv\"", response.ContentDisposition);
        var rows = Csv.Parse(response.Text);
        Assert.Equal(BatchCsvColumns, rows[0]);
        Assert.Equal(13, rows.Count);
        for (var i = 0; i < 12; i++)
        {
            var row = rows[i + 1];
            Assert.Equal(6, row.Length);
            Assert.Equal(($"r{i}", json[i].Int("status").ToString(System.Globalization.CultureInfo.InvariantCulture), json[i].Str("outcome")), (row[0], row[1], row[2]));
            if (failing.Contains(i))
            {
                Assert.Equal(("400", "failed", "", ""), (row[1], row[2], row[3], row[4]));
                Assert.StartsWith("email: ", row[5]);
            }
            else
            {
                var user = JsonDocument.Parse(row[4]).RootElement;
                Assert.Equal($"/users/{user.GetProperty("id").GetInt64()}", row[3]);
                Assert.Equal(json[i].GetProperty("result").GetProperty("id").GetInt64(), user.GetProperty("id").GetInt64());
                Assert.Equal("", row[5]);
            }
        }
    }

    [Fact]
    public async Task Csv_StatusFilter_KeepsOnlyThoseRows()
    {
        var (batchId, failing) = await SubmitMixedAsync(12);

        var rows = Csv.Parse((await DownloadAsync($"/batch/{batchId}/results?format=csv&status=failed")).Text);

        Assert.Equal(BatchCsvColumns, rows[0]);
        Assert.Equal(failing.Select(i => $"r{i}"), rows.Skip(1).Select(r => r[0]));
    }

    [Theory]
    [InlineData("?format=ndjson", null)]
    [InlineData("", "application/x-ndjson")]
    public async Task Ndjson_IsOneJsonObjectPerLineInOrder(string query, string? accept)
    {
        var (batchId, failing) = await SubmitMixedAsync(12);
        var json = await _api.AllResultsAsync(batchId);

        var response = await DownloadAsync($"/batch/{batchId}/results{query}", accept);

        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.Equal("application/x-ndjson", response.ContentType);
        Assert.Equal($"attachment; filename=\"batch-{batchId}-results.ndjson\"", response.ContentDisposition);
        Assert.EndsWith("\n", response.Text);
        var lines = response.Text[..^1].Split('\n');
        Assert.Equal(12, lines.Length);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = JsonDocument.Parse(lines[i]).RootElement;
            Assert.Equal(JsonValueKind.Object, line.ValueKind);
            Assert.Equal($"r{i}", line.Str("id"));
            Assert.Equal(json[i].Int("status"), line.Int("status"));
            Assert.Equal(failing.Contains(i) ? "failed" : "succeeded", line.Str("outcome"));
            Assert.True(line.TryGetProperty(failing.Contains(i) ? "error" : "result", out _), lines[i]);
        }
    }

    [Fact]
    public async Task FormatJson_WinsOverAcceptCsv()
    {
        var (batchId, _) = await SubmitMixedAsync(3);

        var response = await DownloadAsync($"/batch/{batchId}/results?format=json", "text/csv");

        Assert.Equal(3, ApiAssert.Json(response, HttpStatusCode.OK).GetProperty("items").GetArrayLength());
        Assert.Null(response.ContentDisposition);
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("?format=json", null)]
    [InlineData("?format=csv", null)]
    [InlineData("?format=ndjson", null)]
    [InlineData("", "text/csv")]
    [InlineData("", "application/x-ndjson")]
    [InlineData("?status=failed&limit=5", null)]
    public async Task UnknownBatch_Returns404InEveryFormat(string query, string? accept)
    {
        var batchId = Guid.NewGuid().ToString("N");

        var response = await DownloadAsync($"/batch/{batchId}/results{query}", accept);

        Assert.Equal(batchId, ApiAssert.Problem(response, HttpStatusCode.NotFound, "batch-not-found").Str("batchId"));
        Assert.Null(response.ContentDisposition);
    }

    /// <summary>A sync batch of <paramref name="count"/> create-user operations r0…, every fourth one (r1, r5, …) an invalid email.</summary>
    private async Task<(string BatchId, List<int> Failing)> SubmitMixedAsync(int count)
    {
        var token = Unique.Token();
        var failing = Enumerable.Range(0, count).Where(i => i % 4 == 1).ToList();
        var operations = Enumerable.Range(0, count)
            .Select(i => CreateUser($"r{i}", failing.Contains(i) ? $"bad{i}" : $"res{i}-{token}@example.com")).ToArray();
        var response = await _api.PostAsync("/batch", new { mode = "sync", operations });
        Assert.Equal(HttpStatusCode.MultiStatus, response.Status);
        return (response.BatchId(), failing);
    }

    private Task<ApiResponse> DownloadAsync(string path, string? accept = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (accept is not null)
        {
            request.Headers.Accept.ParseAdd(accept);
        }

        return SendAndDisposeAsync(request);
    }

    private async Task<ApiResponse> SendAndDisposeAsync(HttpRequestMessage request)
    {
        using (request)
        {
            return await _api.SendAsync(request);
        }
    }
}
