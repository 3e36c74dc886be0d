using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;
using static Orleans.Batch.Tests.Infrastructure.BatchLifecycle;

namespace Orleans.Batch.Tests.Gateway;

/// <summary><c>GET /batch/{id}/status?wait=</c>: the status answered when the batch ends, or when the wait is up.</summary>
[Collection(ClusterCollection.Name)]
public sealed class StatusWaitTests(ClusterFixture fixture)
{
    private readonly BatchApi _api = new(fixture.Http);

    [Fact]
    public async Task Status_WaitWhileBatchRuns_AnswersWhenItEnds()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(fixture.Tenant);
        var (batchId, grain) = await StartWaitingForItemsAsync("wait-ends");
        var waiting = _api.GetAsync($"/batch/{batchId}/status?wait=30");
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.False(waiting.IsCompleted, "The status answered before the batch ended.");

        await grain.AppendAsync(2, Items(batchId, "wait-ends", 2, 2));
        var clock = Stopwatch.StartNew();
        var status = ApiAssert.Json(await waiting, HttpStatusCode.OK);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"The status answered {clock.Elapsed.TotalSeconds:F1} s after the batch ended.");
        Assert.Equal("completed", status.Str("status"));
        Assert.Equal((4, 4), (status.Int("total"), status.Int("succeeded")));
    }

    [Fact]
    public async Task Status_WaitRunsOut_AnswersTheStatusItHasThen()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(fixture.Tenant);
        var (batchId, grain) = await StartWaitingForItemsAsync("wait-out");
        var clock = Stopwatch.StartNew();

        var status = ApiAssert.Json(await _api.GetAsync($"/batch/{batchId}/status?wait=1"), HttpStatusCode.OK);

        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1), $"The status answered after {clock.Elapsed.TotalSeconds:F2} s of a 1 s wait.");
        Assert.Equal("processing", status.Str("status"));
        Assert.Equal(2, status.Int("succeeded"));
        await grain.AppendAsync(2, Items(batchId, "wait-out", 2, 2));
        Assert.Equal("completed", (await _api.WaitUntilEndedAsync(batchId)).Str("status"));
    }

    [Fact]
    public async Task Status_WaitOnEndedBatch_AnswersAtOnce()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(fixture.Tenant);
        var response = await _api.PostAsync("/batch", new { mode = "async", operations = new[] { CreateUser("a", Unique.Email("wait-ended")) } });
        var batchId = response.BatchId();
        await _api.WaitUntilEndedAsync(batchId);
        var clock = Stopwatch.StartNew();

        var status = ApiAssert.Json(await _api.GetAsync($"/batch/{batchId}/status?wait=30"), HttpStatusCode.OK);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"An ended batch's status took {clock.Elapsed.TotalSeconds:F1} s.");
        Assert.Equal("completed", status.Str("status"));
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("61")]
    [InlineData("soon")]
    [InlineData("1.5")]
    public async Task Status_WaitOutOfRange_Returns400NamingIt(string wait)
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(fixture.Tenant);
        var problem = ApiAssert.Problem(
            await _api.GetAsync($"/batch/{Guid.NewGuid():N}/status?wait={wait}"), HttpStatusCode.BadRequest, "validation", "wait");

        Assert.Contains("from 0 to 60", problem.GetProperty("errors").GetProperty("wait")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_WaitOnUnknownBatch_Returns404()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(fixture.Tenant);
        var clock = Stopwatch.StartNew();

        ApiAssert.Problem(await _api.GetAsync($"/batch/{Guid.NewGuid():N}/status?wait=30"), HttpStatusCode.NotFound, "batch-not-found");

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"An unknown batch's status took {clock.Elapsed.TotalSeconds:F1} s.");
    }

    /// <summary>A batch sealed at four items holding two, which it runs and then waits for the rest.</summary>
    private async Task<(string BatchId, IBatchGrain Grain)> StartWaitingForItemsAsync(string tag)
    {
        var batchId = Guid.NewGuid().ToString("N");
        var grain = fixture.Grains.GetGrain<IBatchGrain>(batchId);
        await grain.AppendAsync(0, Items(batchId, tag, 0, 2));
        await grain.SealAsync(4, concurrency: 1);
        await _api.WaitForAsync(batchId, status => status.Int("succeeded") == 2);
        return (batchId, grain);
    }

    private static BatchItemSlice Items(string batchId, string tag, int first, int count) => BatchItemSlice.Of(
        [.. Enumerable.Range(first, count).Select(i => new BatchItem(new OperationRequest(
            $"row-{i + 1}", "POST", "/users", JsonSerializer.Serialize(new { email = Unique.Email($"{tag}{i}"), name = "Waiting" }), null, batchId)))]);
}
