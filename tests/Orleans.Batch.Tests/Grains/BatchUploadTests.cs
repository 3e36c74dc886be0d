using System.Text.Json;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Grains;

/// <summary>A batch sealed at its size after its first slice, as imports are: it runs what it holds while the rest is appended.</summary>
[Collection(ClusterCollection.Name)]
public sealed class BatchUploadTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Seal_BeforeEveryItemIsStored_RunsTheFirstItems_ThenTheRestAsTheyAreAppended()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var (grain, items) = NewBatch("early", 30);
        await grain.AppendAsync(0, items[..10]);

        var sealedAt = await grain.SealAsync(30, concurrency: 4);
        var firstTen = await UntilAsync(grain, p => p.Succeeded == 10);

        Assert.Equal(30, sealedAt.Total);
        Assert.Equal(BatchStatus.Processing, firstTen.Status);
        Assert.Equal(30, firstTen.Total);

        await grain.AppendAsync(10, items[10..20]);
        await grain.AppendAsync(20, items[20..]);
        var done = await grain.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.NotNull(done);
        Assert.Equal(BatchStatus.Completed, done.Status);
        Assert.Equal((30, 30, 0), (done.Total, done.Succeeded, done.Failed));
        var page = await grain.GetResultsAsync(-1, 100, null);
        Assert.Equal(items.Select(i => i.Operation.Id), page!.Items.Select(i => i.Result.Id));
        Assert.All(page.Items, i => Assert.Equal(201, i.Result.Status));
    }

    [Fact]
    public async Task Append_AfterSeal_OutOfOrderOrBeyondTheTotal_IsRefused_AndARepeatedSliceIsIgnored()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var (grain, items) = NewBatch("order", 20);
        await grain.AppendAsync(0, items[..10]);
        await grain.SealAsync(20, concurrency: 2);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => grain.AppendAsync(15, items[15..]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => grain.AppendAsync(10, BatchItemSlice.Of([.. items[10..], .. NewBatch("extra", 1).Items])));
        var repeated = await grain.AppendAsync(0, items[..10]);
        Assert.Equal(20, repeated.Total);

        await grain.AppendAsync(10, items[10..]);
        var done = await grain.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal((BatchStatus.Completed, 20, 20), (done!.Status, done.Total, done.Succeeded));
    }

    [Fact]
    public async Task Cancel_WhileUploading_EndsCancelled_AtTheItemsItHolds_AndStoresNoMore()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var (grain, items) = NewBatch("cancel", 20);
        await grain.AppendAsync(0, items[..5]);
        await grain.SealAsync(20, concurrency: 2);
        await UntilAsync(grain, p => p.Succeeded == 5);

        var cancelled = await grain.CancelAsync();
        var late = await grain.AppendAsync(5, items[5..]);

        Assert.Equal(BatchStatus.Cancelled, cancelled.Progress!.Status);
        Assert.Equal((BatchStatus.Cancelled, 5, 5), (late.Status, late.Total, late.Succeeded));
        var page = await grain.GetResultsAsync(-1, 100, null);
        Assert.Equal(5, page!.Items.Count);
    }

    [Fact]
    public async Task Abort_AfterSeal_KeepsTheTotal_EndsFailedShortOfIt_RetryIsRefused_AndResumingTheUploadCompletesIt()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var (grain, items) = NewBatch("abort", 20);
        await grain.AppendAsync(0, items[..10]);
        await grain.SealAsync(20, concurrency: 2);

        await grain.AbortAsync();
        var ended = await grain.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.NotNull(ended);
        Assert.Equal((BatchStatus.Failed, 20, 10, 10, true), (ended.Status, ended.Total, ended.Stored, ended.Succeeded, ended.UploadStopped));
        Assert.False(ended.HoldsEveryItem);
        Assert.Contains("stopped after 10 of 20 items", ended.FailureReason, StringComparison.Ordinal);
        var late = await grain.AppendAsync(10, items[10..]);
        Assert.Equal((10, true), (late.Stored, late.UploadStopped));
        var retry = await grain.RetryAsync();
        Assert.Contains("Idempotency-Key", retry.Conflict, StringComparison.Ordinal);
        Assert.Equal(BatchStatus.Failed, (await grain.GetStatusAsync())!.Status);

        var resumed = await grain.ResumeUploadAsync();
        Assert.Null(resumed.Conflict);
        Assert.Equal((BatchStatus.Processing, 10, false, null), (resumed.Progress!.Status, resumed.Progress.Stored, resumed.Progress.UploadStopped, resumed.Progress.FailureReason));
        await grain.AppendAsync(10, items[10..]);
        var done = await grain.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal((BatchStatus.Completed, 20, 20, 20), (done!.Status, done.Total, done.Stored, done.Succeeded));
        Assert.Null(done.FailureReason);
        var page = await grain.GetResultsAsync(-1, 100, null);
        Assert.Equal(items.Select(i => i.Operation.Id), page!.Items.Select(i => i.Result.Id));
        Assert.Equal(20, await fixture.Database.CountUsersAsync(items.Select(i => JsonDocument.Parse(i.Operation.Body!).RootElement.GetProperty("email").GetString()!)));
    }

    [Fact]
    public async Task ResumeUpload_WhileTheFirstUploadIsStillSending_IsAConflict_AndStoresNothing()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var (grain, items) = NewBatch("busy", 20);
        await grain.AppendAsync(0, items[..10]);
        await grain.SealAsync(20, concurrency: 2);

        var resumed = await grain.ResumeUploadAsync();

        Assert.Contains("may still be running", resumed.Conflict, StringComparison.Ordinal);
        Assert.Equal((BatchStatus.Processing, 10, false), (resumed.Progress!.Status, resumed.Progress.Stored, resumed.Progress.UploadStopped));
        await grain.AppendAsync(10, items[10..]);
        var done = await grain.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((BatchStatus.Completed, 20), (done!.Status, done.Succeeded));
    }

    [Fact]
    public async Task ResumeUpload_OfNoBatch_AnswersNone()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var resumed = await fixture.Grains.GetGrain<IBatchGrain>(Guid.NewGuid().ToString("N")).ResumeUploadAsync();

        Assert.Null(resumed.Progress);
    }

    [Fact]
    public async Task Start_OfABatchWhoseItemsWereStoredButNeverSealed_SealsAndRunsIt()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var (grain, items) = NewBatch("unsealed", 12);
        // A first StartAsync that stored the items and then failed leaves the batch pending, as this append does.
        await grain.AppendAsync(0, items);
        Assert.Equal(BatchStatus.Pending, (await grain.GetStatusAsync())!.Status);

        var started = await grain.StartAsync(new BatchRequest([.. items.Select(i => i.Operation)], 2));
        var done = await grain.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(BatchStatus.Processing, started.Status);
        Assert.Equal((BatchStatus.Completed, 12, 12, 12), (done!.Status, done.Total, done.Stored, done.Succeeded));
    }

    private (IBatchGrain Grain, BatchItem[] Items) NewBatch(string tag, int count)
    {
        var batchId = Guid.NewGuid().ToString("N");
        var items = Enumerable.Range(0, count)
            .Select(i => new BatchItem(new OperationRequest(
                $"row-{i + 1}", "POST", "/users", JsonSerializer.Serialize(new { email = Unique.Email($"{tag}{i}"), name = "Uploaded" }), null, batchId)))
            .ToArray();
        return (fixture.Grains.GetGrain<IBatchGrain>(batchId), items);
    }

    private static async Task<BatchProgress> UntilAsync(IBatchGrain grain, Func<BatchProgress, bool> condition)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await grain.GetStatusAsync() is { } progress && condition(progress))
            {
                return progress;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("The batch never reached the expected progress.");
    }
}
