using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Batch.Grains.Batches;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Operations;
using Orleans.Batch.Grains.Resources;
using Orleans.Batch.Tests.Infrastructure;
using Orleans.TestingHost;

namespace Orleans.Batch.Tests.Grains.Operations;

/// <summary>
/// Creates the database runs from their stored bodies (<see cref="StagedCreates"/>): marked when stored, run as one
/// statement per chunk with their result run, and answered, when read, exactly as the item path would have answered.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class StagedCreatesTests(ClusterFixture fixture)
{
    private readonly BatchApi _api = new(fixture.Http);

    private IServiceProvider Services =>
        Assert.IsType<InProcessSiloHandle>(fixture.Cluster.GetActiveSilos().First()).SiloHost.Services;

    [Fact]
    public async Task Import_OfRowsAsGiven_RunsStaged_AndEachAnswerIsItsRowAsReadBack()
    {
        var emails = Enumerable.Range(0, 3000).Select(i => Unique.Email($"staged{i}")).ToList();
        var batchId = await ImportAsync("email,name\n" + string.Concat(emails.Select((e, i) => $"{e},Staged {i}\n")), "?concurrency=16");

        var final = await _api.WaitUntilEndedAsync(batchId);

        Assert.Equal(("completed", 3000, 0), (final.Str("status"), final.Int("succeeded"), final.Int("failed")));
        await using var connection = await fixture.Database.OpenConnectionAsync();
        Assert.Equal(3000, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM batch_items WHERE batch_id = @batchId AND staged", new { batchId }));
        Assert.Equal((3000L, 0L), await connection.QuerySingleAsync<(long, long)>(
            "SELECT count(created_id), count(result) FROM batch_results WHERE batch_id = @batchId", new { batchId }));
        var items = await _api.AllResultsAsync(batchId);
        var rows = (await connection.QueryAsync<(long Id, string Email, string Name)>(
            "SELECT id, email, name FROM users WHERE email = ANY(@emails)", new { emails })).ToDictionary(r => r.Id);
        Assert.Equal(3000, items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var id = items[i].GetProperty("result").GetProperty("id").GetInt64();
            Assert.Equal((emails[i], $"Staged {i}"), (rows[id].Email, rows[id].Name));
            Assert.Equal($"/users/{id}", items[i].GetProperty("headers").GetProperty("location").GetString());
        }

        foreach (var item in new[] { items[0], items[^1] })
        {
            var read = await _api.GetAsync(item.GetProperty("headers").GetProperty("location").GetString()!);
            Assert.Equal(ApiAssert.Json(read, HttpStatusCode.OK).GetRawText(), item.GetProperty("result").GetRawText());
        }
    }

    [Fact]
    public async Task Import_ChunkOfStagedRowsWithATakenEmail_FallsBackAndAnswersEachRow()
    {
        var taken = Unique.Email("staged-taken");
        await _api.CreateUserAsync(taken);
        var (a, c) = (Unique.Email("staged-a"), Unique.Email("staged-c"));

        var batchId = await ImportAsync($"email,name\n{a},A\n{taken.ToUpperInvariant()},Taken\n{c},C\n");
        await _api.WaitUntilEndedAsync(batchId);

        var items = await _api.AllResultsAsync(batchId);
        Assert.Equal([201, 409, 201], items.Select(i => i.Int("status")));
        Assert.Equal([a, c], items.Where(i => i.Int("status") == 201).Select(i => i.GetProperty("result").GetProperty("email").GetString()));
        Assert.Equal(1, await fixture.Database.CountUsersAsync([taken]));
        await using var connection = await fixture.Database.OpenConnectionAsync();
        Assert.Equal([true, true, true], await connection.QueryAsync<bool>(
            "SELECT staged FROM batch_items WHERE batch_id = @batchId ORDER BY seq", new { batchId }));
    }

    [Fact]
    public async Task Import_RowsToTrimOrWithAnInvalidField_AreNotStaged_AndAnswerAsBefore()
    {
        var (a, b) = (Unique.Email("trim-a"), Unique.Email("trim-b"));

        var batchId = await ImportAsync($"email,name\n{a},A\n  {b} ,  B  \nnot-an-email,C\n");
        await _api.WaitUntilEndedAsync(batchId);

        var items = await _api.AllResultsAsync(batchId);
        Assert.Equal([201, 201, 400], items.Select(i => i.Int("status")));
        Assert.Equal((b, "B"), (items[1].GetProperty("result").GetProperty("email").GetString(), items[1].GetProperty("result").GetProperty("name").GetString()));
        await using var connection = await fixture.Database.OpenConnectionAsync();
        Assert.Equal([true, false, false], await connection.QueryAsync<bool>(
            "SELECT staged FROM batch_items WHERE batch_id = @batchId ORDER BY seq", new { batchId }));
        Assert.Equal("B", await connection.ExecuteScalarAsync<string>("SELECT name FROM users WHERE email = @b", new { b }));
    }

    [Fact]
    public async Task ChunkSentAgain_AfterItsStagedRun_AnswersTheStoredResultsWithoutCreatingTwice()
    {
        var emails = new[] { Unique.Email("again-s0"), Unique.Email("again-s1"), Unique.Email("again-s2") };
        var (batchId, operations) = await StoreAsync(emails, staged: true);
        var staged = Services.GetRequiredService<StagedCreates>();

        Assert.True(await staged.TryRunAsync(TenantContext.Default, batchId, "/users", [0, 1, 2], null, CancellationToken.None));
        Assert.False(await staged.TryRunAsync(TenantContext.Default, batchId, "/users", [0, 1, 2], null, CancellationToken.None));
        var again = await Services.GetRequiredService<OperationExecutor>().ExecuteManyAsync(TenantContext.Default,
            operations, new ItemLedger(batchId, [0, 1, 2]) { Resent = true }, CancellationToken.None);

        Assert.All(again.Recorded, Assert.True);
        Assert.Equal(1, await fixture.Database.CountUsersAsync([emails[0]]));
        Assert.Equal(3, await fixture.Database.CountUsersAsync(emails));
        for (var i = 0; i < emails.Length; i++)
        {
            Assert.Equal(201, again.Responses[i].Status);
            var id = JsonDocument.Parse(again.Responses[i].Body!).RootElement.GetProperty("id").GetInt64();
            Assert.Equal($"/users/{id}", again.Responses[i].Location);
            Assert.Equal(ApiAssert.Json(await _api.GetAsync($"/users/{id}"), HttpStatusCode.OK).GetRawText(), again.Responses[i].Body);
        }
    }

    [Fact]
    public async Task TryRun_ItemsStoredWithoutTheStagedMark_RunsNothing()
    {
        var emails = new[] { Unique.Email("unmarked-0"), Unique.Email("unmarked-1") };
        var (batchId, _) = await StoreAsync(emails, staged: false);

        Assert.False(await Services.GetRequiredService<StagedCreates>().TryRunAsync(TenantContext.Default, batchId, "/users", [0, 1], null, CancellationToken.None));

        Assert.Equal(0, await fixture.Database.CountUsersAsync(emails));
        await using var connection = await fixture.Database.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM batch_results WHERE batch_id = @batchId", new { batchId }));
    }

    [Fact]
    public async Task RetryOfFailedItems_KeepsTheStagedAnswers()
    {
        var emails = new[] { Unique.Email("retry-s0"), Unique.Email("retry-s1") };
        var (batchId, _) = await StoreAsync(emails, staged: true, extra: new OperationRequest("bad", "POST", "/users", """{"email":"nope","name":"X"}""", null, null));
        var store = Services.GetRequiredService<BatchItemStore>();
        Assert.True(await Services.GetRequiredService<StagedCreates>().TryRunAsync(TenantContext.Default, batchId, "/users", [0, 1], null, CancellationToken.None));
        var bad = new OperationRequest("bad", "POST", "/users", """{"email":"nope","name":"X"}""", null, batchId);
        await Services.GetRequiredService<OperationExecutor>().ExecuteManyAsync(TenantContext.Default, [bad], new ItemLedger(batchId, [2]) { Resent = false }, CancellationToken.None);

        Assert.Equal(1, await store.ResetFailedAsync(batchId, CancellationToken.None));

        var results = await store.ReadResultsAsync(batchId, -1, 3, 10, null, CancellationToken.None);
        Assert.Equal([0, 1], results.Select(r => r.Seq));
        Assert.Equal(emails, results.Select(r => JsonDocument.Parse(r.Result.Body!).RootElement.GetProperty("email").GetString()));
        Assert.All(results, r => Assert.StartsWith("/users/", r.Result.Location));
    }

    [Fact]
    public async Task TryRun_WithTheRowsGiven_CreatesThemInItemOrder_AndNeverTwice()
    {
        var emails = new[] { Unique.Email("rows-s0"), Unique.Email("rows-s1"), Unique.Email("rows-s2") };
        var (batchId, _) = await StoreAsync(emails, staged: true);
        var staged = Services.GetRequiredService<StagedCreates>();
        var rows = new StagedRows([emails, ["Row 0", "Row 1", "Row 2"]]);

        Assert.True(await staged.TryRunAsync(TenantContext.Default, batchId, "/users", [0, 1, 2], rows, CancellationToken.None));
        Assert.False(await staged.TryRunAsync(TenantContext.Default, batchId, "/users", [0, 1, 2], rows, CancellationToken.None));

        await using var connection = await fixture.Database.OpenConnectionAsync();
        var created = (await connection.QueryAsync<(long Id, string Email, string Name)>(
            "SELECT id, email, name FROM users WHERE email = ANY(@emails) ORDER BY id", new { emails })).ToList();
        Assert.Equal(emails.Select((e, i) => (e, $"Row {i}")), created.Select(c => (c.Email, c.Name)));
        var results = await Services.GetRequiredService<BatchItemStore>().ReadResultsAsync(batchId, -1, 3, 10, null, CancellationToken.None);
        Assert.Equal(created.Select(c => $"/users/{c.Id}"), results.Select(r => r.Result.Location));
        Assert.All(results, r => Assert.Equal(201, r.Result.Status));
    }

    [Fact]
    public async Task TryRun_WithTheRowsGiven_ForItemsStoredWithoutTheStagedMark_RunsNothing()
    {
        var emails = new[] { Unique.Email("rows-unmarked-0"), Unique.Email("rows-unmarked-1") };
        var (batchId, _) = await StoreAsync(emails, staged: false);

        Assert.False(await Services.GetRequiredService<StagedCreates>().TryRunAsync(TenantContext.Default,
            batchId, "/users", [0, 1], new StagedRows([emails, ["A", "B"]]), CancellationToken.None));

        Assert.Equal(0, await fixture.Database.CountUsersAsync(emails));
    }

    [Fact]
    public void Statement_CommitsWithoutWaitingForTheDisk_UnlessSetToWait()
    {
        var create = Services.GetRequiredService<ResourceRouter>().StagedCreateAt("/users")!;

        Assert.False(new DatabaseOptions().SynchronousStagedCommits);
        Assert.StartsWith("SET LOCAL synchronous_commit = off;", StagedRuns.Statement(create, givenRows: true, synchronous: false), StringComparison.Ordinal);
        Assert.StartsWith("SET LOCAL synchronous_commit = off;", StagedRuns.Statement(create, givenRows: false, synchronous: false), StringComparison.Ordinal);
        Assert.DoesNotContain("synchronous_commit", StagedRuns.Statement(create, givenRows: true, synchronous: true), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TryRun_WithTheRowsGiven_StoresBackslashesTabsAndLineBreaksAsGiven()
    {
        var emails = new[] { Unique.Email("copy-text-0"), Unique.Email("copy-text-1"), Unique.Email("copy-text-2") };
        var names = new[] { @"Back\slash \N \.", "Tab\there\r\nand a line", "Ünïcode, \"quoted\"" };
        var (batchId, _) = await StoreAsync(emails, staged: true);

        Assert.True(await Services.GetRequiredService<StagedCreates>().TryRunAsync(TenantContext.Default,
            batchId, "/users", [0, 1, 2], new StagedRows([emails, names]), CancellationToken.None));

        await using var connection = await fixture.Database.OpenConnectionAsync();
        var created = await connection.QueryAsync<string>("SELECT name FROM users WHERE email = ANY(@emails) ORDER BY id", new { emails });
        Assert.Equal(names, created);
    }

    [Fact]
    public async Task TryRun_WithTheRowsGiven_AValueTheTableRefuses_CreatesNoneOfTheChunk()
    {
        var emails = new[] { Unique.Email("copy-null-0"), Unique.Email("copy-null-1") };
        var (batchId, _) = await StoreAsync(emails, staged: true);

        Assert.False(await Services.GetRequiredService<StagedCreates>().TryRunAsync(TenantContext.Default,
            batchId, "/users", [0, 1], new StagedRows([emails, ["Named", null]]), CancellationToken.None));

        Assert.Equal(0, await fixture.Database.CountUsersAsync(emails));
        await using var connection = await fixture.Database.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM batch_results WHERE batch_id = @batchId", new { batchId }));
    }

    [Fact]
    public async Task TryRun_WithRowsNotMatchingTheItems_Throws()
    {
        var staged = Services.GetRequiredService<StagedCreates>();

        await Assert.ThrowsAsync<ArgumentException>(() => staged.TryRunAsync(TenantContext.Default, "any", "/users", [0, 1], new StagedRows([["a@example.com", "b@example.com"]]), CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => staged.TryRunAsync(TenantContext.Default, "any", "/users", [0, 1], new StagedRows([["a@example.com"], ["A"]]), CancellationToken.None));
    }

    /// <summary>Stores creates of <paramref name="emails"/> (and <paramref name="extra"/>) as a new batch's items, marked staged or not.</summary>
    private async Task<(string BatchId, List<OperationRequest> Operations)> StoreAsync(
        IReadOnlyList<string> emails, bool staged, OperationRequest? extra = null)
    {
        var batchId = $"staged-{Unique.Token()}";
        var operations = emails.Select((e, i) => new OperationRequest(
            $"u{i}", "POST", "/users", JsonSerializer.Serialize(new { email = e, name = "Staged User" }), null, batchId)).ToList();
        var items = operations.Select(o => new BatchItem(o)).ToList();
        if (extra is not null)
        {
            items.Add(new BatchItem(extra with { BatchId = batchId }));
        }

        await Services.GetRequiredService<BatchItemStore>().AppendAsync(
            batchId, 0, items, [.. items.Select((_, i) => staged && i < emails.Count)], null, CancellationToken.None);
        return (batchId, operations);
    }

    private async Task<string> ImportAsync(string csv, string query = "")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/batch/users/import" + query);
        request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        return ApiAssert.Json(await _api.SendAsync(request), HttpStatusCode.Accepted).Str("batchId")!;
    }
}
