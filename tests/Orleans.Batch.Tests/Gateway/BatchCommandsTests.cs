using System.Net;
using Orleans.Batch.Tests.Infrastructure;
using static Orleans.Batch.Tests.Infrastructure.BatchLifecycle;

namespace Orleans.Batch.Tests.Gateway;

/// <summary><c>POST /batch/{id}/cancel</c> and <c>POST /batch/{id}/retry</c>.</summary>
[Collection(ClusterCollection.Name)]
public sealed class BatchCommandsTests(ClusterFixture fixture)
{
    private readonly BatchApi _api = new(fixture.Http);

    [Fact]
    public async Task Cancel_RunningBatch_CancelsEveryItemNotStarted_AndAppliesNoneOfThem()
    {
        const int total = 1000;
        var token = Unique.Token();
        var emails = Enumerable.Range(0, total).Select(i => $"cancel{i}-{token}@example.com").ToList();
        await using var hold = await UserInsertHold.AcquireAsync(fixture.Database, emails[0]);
        var batchId = (await _api.PostAsync("/batch", new
        {
            mode = "async", concurrency = 1, operations = emails.Select((e, i) => CreateUser($"c{i}", e)).ToArray(),
        })).BatchId();
        await hold.WaitUntilBlockingAsync(fixture.Database);

        // The cancel waits for the item in flight, which waits for the hold: release it once the cancel is in.
        var cancelling = _api.PostAsync($"/batch/{batchId}/cancel", null);
        await Task.Delay(300);
        await hold.ReleaseAsync();
        var cancel = await cancelling;

        var status = ApiAssert.Json(cancel, HttpStatusCode.OK);
        Assert.Equal(batchId, status.Str("batchId"));
        Assert.Equal("cancelled", status.Str("status"));
        var (succeeded, failed, cancelled) = (status.Int("succeeded"), status.Int("failed"), status.Int("cancelled"));
        Assert.True(cancelled > 0, $"nothing was cancelled: {cancel.Text}");
        Assert.True(succeeded >= 1, "the item in flight when the cancel came finishes");
        Assert.Equal(0, failed);
        Assert.Equal(total, succeeded + failed + cancelled);
        Assert.Equal(total, status.Int("completed"));
        Assert.Equal(1.0, status.GetProperty("progress").GetDouble());
        Assert.Equal(status.ToString(), (await _api.StatusAsync(batchId)).ToString());

        var cancelledItems = await _api.AllResultsAsync(batchId, "&status=cancelled", limit: 300);
        var succeededItems = await _api.AllResultsAsync(batchId, "&status=succeeded");
        Assert.Equal(cancelled, cancelledItems.Count);
        Assert.Equal(succeeded, succeededItems.Count);
        Assert.All(cancelledItems, i =>
        {
            Assert.Equal(499, i.Int("status"));
            Assert.Equal("cancelled", i.Str("outcome"));
            Assert.Equal(ApiAssert.ProblemTypePrefix + "cancelled", i.GetProperty("error").Str("type"));
        });

        // Items ran in order: the succeeded ones are a prefix, the cancelled ones the rest, and only the former exist.
        Assert.Equal(Enumerable.Range(0, succeeded).Select(i => $"c{i}"), succeededItems.Select(i => i.Str("id")));
        Assert.Equal(Enumerable.Range(succeeded, cancelled).Select(i => $"c{i}"), cancelledItems.Select(i => i.Str("id")));
        Assert.Equal(succeeded, await fixture.Database.CountUsersAsync(emails.Take(succeeded)));
        Assert.Equal(0, await fixture.Database.CountUsersAsync(emails.Skip(succeeded)));
        foreach (var email in new[] { emails[succeeded], emails[^1] })
        {
            var found = ApiAssert.Json(await _api.GetAsync($"/users?email={Uri.EscapeDataString(email)}"), HttpStatusCode.OK);
            Assert.Empty(found.GetProperty("items").EnumerateArray());
        }

        var again = ApiAssert.Problem(await _api.PostAsync($"/batch/{batchId}/cancel", null), HttpStatusCode.Conflict, "batch-conflict");
        Assert.Equal(batchId, again.Str("batchId"));
        ApiAssert.Problem(await _api.PostAsync($"/batch/{batchId}/retry", null), HttpStatusCode.Conflict, "batch-conflict");
    }

    [Fact]
    public async Task Cancel_CompletedBatch_Returns409AndChangesNothing()
    {
        var batchId = (await _api.BatchAsync(CreateUser("a", Unique.Email()))).BatchId();
        var before = await _api.StatusAsync(batchId);

        var problem = ApiAssert.Problem(await _api.PostAsync($"/batch/{batchId}/cancel", null), HttpStatusCode.Conflict, "batch-conflict");

        Assert.Equal(batchId, problem.Str("batchId"));
        Assert.Contains("completed", problem.Str("detail"));
        Assert.Equal(before.ToString(), (await _api.StatusAsync(batchId)).ToString());
    }

    [Theory]
    [InlineData("cancel")]
    [InlineData("retry")]
    public async Task Command_UnknownBatch_Returns404(string command)
    {
        var batchId = Guid.NewGuid().ToString("N");

        var problem = ApiAssert.Problem(await _api.PostAsync($"/batch/{batchId}/{command}", null), HttpStatusCode.NotFound, "batch-not-found");

        Assert.Equal(batchId, problem.Str("batchId"));
        ApiAssert.Problem(await _api.GetAsync($"/batch/{batchId}/status"), HttpStatusCode.NotFound, "batch-not-found");
    }

    [Fact]
    public async Task Retry_AfterTheCauseIsFixed_RunsOnlyTheFailedItems_AndCompletes()
    {
        var taken = new[] { Unique.Email("taken"), Unique.Email("taken") };
        var blockers = new List<long>();
        foreach (var email in taken)
        {
            blockers.Add(await _api.CreateUserAsync(email));
        }

        var fresh = new[] { Unique.Email("fresh"), Unique.Email("fresh") };
        var first = await _api.BatchAsync(
            CreateUser("ok1", fresh[0]), CreateUser("dup1", taken[0]), CreateUser("bad", "not-an-email"),
            CreateUser("dup2", taken[1].ToUpperInvariant()), CreateUser("ok2", fresh[1]));
        Assert.Equal(HttpStatusCode.MultiStatus, first.Status);
        var batchId = first.BatchId();
        var before = first.Json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([201, 409, 400, 409, 201], before.Select(r => r.Int("status")));

        foreach (var id in blockers)
        {
            ApiAssert.Empty(await _api.DeleteAsync($"/users/{id}"), HttpStatusCode.NoContent);
        }

        var retry = await _api.PostAsync($"/batch/{batchId}/retry", null);

        var accepted = ApiAssert.Json(retry, HttpStatusCode.Accepted);
        Assert.Equal($"/batch/{batchId}/status", retry.Location);
        Assert.Equal(batchId, accepted.Str("batchId"));
        Assert.Equal("processing", accepted.Str("status"));

        // Items reset for the retry count as failed until they finish again, so progress does not fall back.
        Assert.Equal((5, 5, 2, 3), (accepted.Int("total"), accepted.Int("completed"), accepted.Int("succeeded"), accepted.Int("failed")));
        Assert.Equal(1.0, accepted.GetProperty("progress").GetDouble());
        var final = await _api.WaitUntilEndedAsync(batchId);
        Assert.Equal("completed", final.Str("status"));
        Assert.Equal((5, 4, 1, 0, 5), (final.Int("total"), final.Int("succeeded"), final.Int("failed"), final.Int("cancelled"), final.Int("completed")));
        Assert.Equal(1.0, final.GetProperty("progress").GetDouble());

        var after = await _api.AllResultsAsync(batchId);
        Assert.Equal(["ok1", "dup1", "bad", "dup2", "ok2"], after.Select(r => r.Str("id")));
        Assert.Equal([201, 201, 400, 201, 201], after.Select(r => r.Int("status")));
        Assert.Equal(["succeeded", "succeeded", "failed", "succeeded", "succeeded"], after.Select(r => r.Str("outcome")));
        foreach (var i in new[] { 0, 4 })
        {
            Assert.Equal(before[i].GetProperty("result").ToString(), after[i].GetProperty("result").ToString());
        }

        foreach (var (i, email) in new[] { (1, taken[0]), (3, taken[1]) })
        {
            var found = ApiAssert.Json(await _api.GetAsync($"/users?email={Uri.EscapeDataString(email)}"), HttpStatusCode.OK);
            var user = Assert.Single(found.GetProperty("items").EnumerateArray());
            Assert.Equal(user.GetProperty("id").GetInt64(), after[i].GetProperty("result").GetProperty("id").GetInt64());
            Assert.Equal($"/users/{user.GetProperty("id").GetInt64()}", after[i].GetProperty("headers").Str("location"));
        }

        Assert.Equal(4, await fixture.Database.CountUsersAsync([.. fresh, .. taken]));
    }

    [Fact]
    public async Task Retry_OrderForAUserNotYetThere_SucceedsOnceTheUserExists_AndIsAppliedOnce()
    {
        var productId = await _api.CreateProductAsync();
        var userId = 8_000_000_000_000L + Random.Shared.NextInt64(1_000_000_000_000L);
        var first = await _api.BatchAsync(
            new { id = "order", method = "POST", path = "/orders", body = new { userId, productId, quantity = 2 } },
            CreateUser("user", Unique.Email("orders")));
        Assert.Equal(HttpStatusCode.MultiStatus, first.Status);
        Assert.Equal([422, 201], first.Json.GetProperty("results").EnumerateArray().Select(r => r.Int("status")));
        var batchId = first.BatchId();
        var createdUser = first.Json.GetProperty("results")[1].GetProperty("result").ToString();

        // Still missing: the order runs again, fails again, and the batch completes with it failed.
        ApiAssert.Json(await _api.PostAsync($"/batch/{batchId}/retry", null), HttpStatusCode.Accepted);
        var again = await _api.WaitUntilEndedAsync(batchId);
        Assert.Equal(("completed", 1, 1), (again.Str("status"), again.Int("succeeded"), again.Int("failed")));
        Assert.Equal(422, (await _api.AllResultsAsync(batchId, "&status=failed")).Single().Int("status"));

        // The API cannot choose a user's id, so the missing user is created in the database directly.
        await using (var insert = fixture.Database.CreateCommand(
            "INSERT INTO users (tenant_id, id, email, name) OVERRIDING SYSTEM VALUE VALUES ('default', $1, $2, 'Late User')"))
        {
            insert.Parameters.AddWithValue(userId);
            insert.Parameters.AddWithValue(Unique.Email("late"));
            await insert.ExecuteNonQueryAsync();
        }

        var retry = await _api.PostAsync($"/batch/{batchId}/retry", null);

        ApiAssert.Json(retry, HttpStatusCode.Accepted);
        Assert.Equal($"/batch/{batchId}/status", retry.Location);
        var final = await _api.WaitUntilEndedAsync(batchId);
        Assert.Equal(("completed", 2, 0), (final.Str("status"), final.Int("succeeded"), final.Int("failed")));
        var results = await _api.AllResultsAsync(batchId);
        Assert.Equal(201, results[0].Int("status"));
        Assert.Equal(userId, results[0].GetProperty("result").GetProperty("userId").GetInt64());
        Assert.Equal(createdUser, results[1].GetProperty("result").ToString());
        var orders = ApiAssert.Json(await _api.GetAsync($"/orders?userId={userId}"), HttpStatusCode.OK);
        Assert.Equal(results[0].GetProperty("result").GetProperty("id").GetInt64(), Assert.Single(orders.GetProperty("items").EnumerateArray()).GetProperty("id").GetInt64());
    }

    [Fact]
    public async Task Retry_NothingFailed_Returns409()
    {
        var batchId = (await _api.BatchAsync(CreateUser("a", Unique.Email()), CreateUser("b", Unique.Email()))).BatchId();

        var problem = ApiAssert.Problem(await _api.PostAsync($"/batch/{batchId}/retry", null), HttpStatusCode.Conflict, "batch-conflict");

        Assert.Equal(batchId, problem.Str("batchId"));
        Assert.Equal("completed", (await _api.StatusAsync(batchId)).Str("status"));
    }

    [Fact]
    public async Task Retry_WhileRunning_Returns409_AndTheBatchCarriesOn()
    {
        await using var hold = await UserInsertHold.AcquireAsync(fixture.Database, Unique.Email("retry-running"));
        var batchId = (await _api.PostAsync("/batch", new
        {
            mode = "async", operations = new[] { CreateUser("a", hold.Email), CreateUser("b", "not-an-email") },
        })).BatchId();
        await hold.WaitUntilBlockingAsync(fixture.Database);

        var problem = ApiAssert.Problem(await _api.PostAsync($"/batch/{batchId}/retry", null), HttpStatusCode.Conflict, "batch-conflict");

        Assert.Contains("processing", problem.Str("detail"));
        await hold.ReleaseAsync();
        var final = await _api.WaitUntilEndedAsync(batchId);
        Assert.Equal(("completed", 1, 1), (final.Str("status"), final.Int("succeeded"), final.Int("failed")));
        Assert.Equal(1, await fixture.Database.CountUsersAsync([hold.Email]));
    }
}
