using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using Npgsql;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Grains.Operations;

/// <summary>
/// A chunk of staged creates whose call fails after its statement committed (the answer lost on the way back), on a
/// cluster of its own: the batch sends the chunk again as items, which read the stored results, and nothing is created twice.
/// And one whose commit is lost after it answered (a database crash before a commit that does not wait for the disk
/// reached it): the batch finds its items without results at the end and runs them again.
/// </summary>
public sealed class StagedCallFailureTests(StagedCallFailureTests.FailingCallFixture fixture) : IClassFixture<StagedCallFailureTests.FailingCallFixture>
{
    [Fact]
    public async Task StagedCall_FailingAfterItsRun_ChunkRunsAsItems_AndEachRowIsCreatedOnce()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var batchId = await RunFiveCreatesAsync("staged-lost-");

        Assert.True(LoseAnswers.Lost.ContainsKey(batchId), "the staged call of the batch must have been made, and its answer lost");
    }

    [Fact]
    public async Task StagedChunk_LostAfterItsAnswer_RunsAgainBeforeTheBatchCompletes_AndEachRowIsCreatedOnce()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var batchId = await RunFiveCreatesAsync("staged-vanish-");

        Assert.True(LoseAnswers.Vanished.ContainsKey(batchId), "the staged chunk of the batch must have run, and its rows and results been taken back");
    }

    [Fact]
    public async Task StagedChunk_LostOnEveryPass_RunStopsAfterThreePasses_AndNeverCompletesWithoutResults()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var (batchId, emails, grain) = await StartFiveCreatesAsync("staged-gone-");
        for (var i = 0; i < 200 && LoseAnswers.Gone.GetValueOrDefault(batchId) < 3; i++)
        {
            await Task.Delay(50);
        }

        var ended = await grain.WaitAsync(TimeSpan.FromSeconds(2));

        Assert.Null(ended);
        Assert.Equal(3, LoseAnswers.Gone.GetValueOrDefault(batchId));
        Assert.Equal(BatchStatus.Processing, (await grain.GetStatusAsync())!.Status);
        Assert.Equal(0, await fixture.Database.CountUsersAsync(emails));
    }

    /// <summary>
    /// Runs a batch of five staged creates named <paramref name="prefix"/>..., and checks that it completed with each user
    /// created once and each result a 201 with that user's location.
    /// </summary>
    private async Task<string> RunFiveCreatesAsync(string prefix)
    {
        var (batchId, emails, grain) = await StartFiveCreatesAsync(prefix);
        var final = await grain.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.NotNull(final);
        Assert.Equal((BatchStatus.Completed, emails.Count, 0), (final.Status, final.Succeeded, final.Failed));
        Assert.Equal(emails.Count, await fixture.Database.CountUsersAsync(emails));
        await using var connection = await fixture.Database.OpenConnectionAsync();
        var ids = (await connection.QueryAsync<(string Email, long Id)>("SELECT email, id FROM users WHERE email = ANY(@emails)", new { emails }))
            .ToDictionary(r => r.Email, r => r.Id);
        var results = (await grain.GetResultsAsync(-1, 10, null))!.Items;
        Assert.Equal(emails.Select(e => (201, $"/users/{ids[e]}")), results.Select(r => (r.Result.Status, r.Result.Location!)));
        return batchId;
    }

    /// <summary>Starts a batch named <paramref name="prefix"/>... of five creates of new users, which the silo runs staged.</summary>
    private async Task<(string BatchId, List<string> Emails, IBatchGrain Grain)> StartFiveCreatesAsync(string prefix)
    {
        var batchId = $"{prefix}{Unique.Token()}";
        var emails = Enumerable.Range(0, 5).Select(i => Unique.Email($"{prefix}{i}")).ToList();
        var grain = fixture.Grains.GetGrain<IBatchGrain>(batchId);
        await grain.StartAsync(new BatchRequest(
            [.. emails.Select((e, i) => new OperationRequest($"u{i}", "POST", "/users", JsonSerializer.Serialize(new { email = e, name = $"User {i}" }), null, batchId))],
            Concurrency: 2));
        return (batchId, emails, grain);
    }

    public sealed class FailingCallFixture() : ClusterFixture(silos: 1, typeof(LosingSilo));

    private sealed class LosingSilo : ClusterFixture.SiloConfigurator
    {
        public override void Configure(ISiloBuilder siloBuilder)
        {
            base.Configure(siloBuilder);
            siloBuilder.AddIncomingGrainCallFilter<LoseAnswers>();
        }
    }

    /// <summary>
    /// Runs each staged call of a batch named <c>staged-lost-*</c>, then throws in place of its answer. The first staged
    /// call of a batch named <c>staged-vanish-*</c> answers, and its rows and result run are then deleted: what a
    /// database crash does to a commit that did not wait for the disk. For <c>staged-gone-*</c>, every one is.
    /// </summary>
    private sealed class LoseAnswers(NpgsqlDataSource database) : IIncomingGrainCallFilter
    {
        public static readonly ConcurrentDictionary<string, int> Lost = new();

        public static readonly ConcurrentDictionary<string, int> Vanished = new();

        public static readonly ConcurrentDictionary<string, int> Gone = new();

        public async Task Invoke(IIncomingGrainCallContext context)
        {
            await context.Invoke();
            if (context.InterfaceMethod?.Name != nameof(IChunkGrain.CreateStagedAsync) || context.Request.GetArgument(0) is not string batchId)
            {
                return;
            }

            if (batchId.StartsWith("staged-lost-", StringComparison.Ordinal))
            {
                Lost.AddOrUpdate(batchId, 1, (_, n) => n + 1);
                throw new TimeoutException("The answer of a staged call was lost (injected).");
            }

            var taken = context.Response?.Result is true && (batchId.StartsWith("staged-gone-", StringComparison.Ordinal)
                ? Gone.AddOrUpdate(batchId, 1, (_, n) => n + 1) > 0
                : batchId.StartsWith("staged-vanish-", StringComparison.Ordinal) && Vanished.TryAdd(batchId, 1));
            if (taken)
            {
                await using var command = database.CreateCommand("""
                    WITH r AS (DELETE FROM batch_result_runs WHERE batch_id = $1 AND NOT preset RETURNING created_ids)
                    DELETE FROM users WHERE id IN (SELECT unnest(created_ids) FROM r)
                    """);
                command.Parameters.AddWithValue(batchId);
                Assert.Equal(5, await command.ExecuteNonQueryAsync());
            }
        }
    }
}
