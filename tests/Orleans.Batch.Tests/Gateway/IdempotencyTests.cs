using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Orleans.Batch.Tests.Infrastructure;
using static Orleans.Batch.Tests.Infrastructure.BatchLifecycle;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>
/// Idempotency keys: per operation (<c>idempotencyKey</c>), on a single-resource write, and on a whole submission
/// (the <c>Idempotency-Key</c> header of <c>POST /batch</c> and of the import).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class IdempotencyTests(ClusterFixture fixture)
{
    private readonly BatchApi _api = new(fixture.Http);

    [Fact]
    public async Task OperationKey_ResubmittedBatch_ReplaysStoredResults_AndCreatesNothingTwice()
    {
        var (k1, k2) = (Key(), Key());
        var (e1, e2) = (Unique.Email("replay"), Unique.Email("replay"));
        object[] operations = [CreateUser("a", e1, k1), CreateUser("b", e2, k2), CreateUser("plain", Unique.Email("plain"))];

        var first = await _api.BatchAsync(operations);
        var second = await _api.BatchAsync(operations);

        var firstResults = ApiAssert.Json(first, HttpStatusCode.OK).GetProperty("results").EnumerateArray().ToList();
        var secondJson = ApiAssert.Json(second, HttpStatusCode.MultiStatus);
        Assert.NotEqual(first.BatchId(), second.BatchId());
        var secondResults = secondJson.GetProperty("results").EnumerateArray().ToList();
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(201, secondResults[i].Int("status"));
            Assert.Equal(firstResults[i].GetProperty("result").ToString(), secondResults[i].GetProperty("result").ToString());
            Assert.Equal(firstResults[i].GetProperty("headers").Str("location"), secondResults[i].GetProperty("headers").Str("location"));
        }

        // Without a key the same create runs again, and the email is taken by then.
        Assert.Equal(409, secondResults[2].Int("status"));
        Assert.Equal(2, await fixture.Database.CountUsersAsync([e1, e2]));
    }

    [Fact]
    public async Task OperationKey_ReplaysAcrossBatchAndOperationIds()
    {
        var key = Key();
        var email = Unique.Email("across");
        var first = ApiAssert.Json(await _api.BatchAsync(CreateUser("first", email, key)), HttpStatusCode.OK);

        var second = ApiAssert.Json(
            await _api.PostAsync("/batch", new { mode = "async", operations = new[] { CreateUser("other-id", email, key) } }), HttpStatusCode.Accepted);
        await _api.WaitUntilEndedAsync(second.Str("batchId")!);

        var replayed = Assert.Single(await _api.AllResultsAsync(second.Str("batchId")!));
        Assert.Equal(("other-id", 201, "succeeded"), (replayed.Str("id"), replayed.Int("status"), replayed.Str("outcome")));
        Assert.Equal(first.GetProperty("results")[0].GetProperty("result").ToString(), replayed.GetProperty("result").ToString());
        Assert.Equal(1, await fixture.Database.CountUsersAsync([email]));
    }

    [Fact]
    public async Task OperationKey_ReusedWithAnotherBody_ThatItemIs422_OthersRun()
    {
        var key = Key();
        var (original, other) = (Unique.Email("orig"), Unique.Email("other"));
        Assert.Equal(HttpStatusCode.OK, (await _api.BatchAsync(CreateUser("a", original, key))).Status);
        var bystander = Unique.Email("bystander");

        var response = await _api.BatchAsync(CreateUser("a", other, key), CreateUser("b", bystander));

        var results = ApiAssert.Json(response, HttpStatusCode.MultiStatus).GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(422, results[0].Int("status"));
        Assert.Equal(ApiAssert.ProblemTypePrefix + "idempotency-key-reused", results[0].GetProperty("error").Str("type"));
        Assert.Contains(key, results[0].GetProperty("error").Str("detail"));
        Assert.Equal(201, results[1].Int("status"));
        Assert.Equal(0, await fixture.Database.CountUsersAsync([other]));
        Assert.Equal(2, await fixture.Database.CountUsersAsync([original, bystander]));
    }

    [Fact]
    public async Task OperationKey_WhileItsFirstExecutionRuns_ThatItemIs409_ThenRunsOnceReleased()
    {
        var (busy, free) = (Key(), Key());
        var (busyEmail, freeEmail) = (Unique.Email("busy"), Unique.Email("free"));
        object[] operations = [CreateUser("busy", busyEmail, busy), CreateUser("free", freeEmail, free)];
        await using var hold = await IdempotencyKeyHold.AcquireAsync(fixture.Database, busy, fixture.Tenant);

        var whileHeld = ApiAssert.Json(await _api.BatchAsync(operations), HttpStatusCode.MultiStatus).GetProperty("results").EnumerateArray().ToList();

        Assert.Equal(409, whileHeld[0].Int("status"));
        Assert.Equal(ApiAssert.ProblemTypePrefix + "idempotency-key-in-flight", whileHeld[0].GetProperty("error").Str("type"));
        Assert.Equal(201, whileHeld[1].Int("status"));
        Assert.Equal(0, await fixture.Database.CountUsersAsync([busyEmail]));

        await hold.ReleaseAsync();
        var afterwards = ApiAssert.Json(await _api.BatchAsync(operations), HttpStatusCode.OK).GetProperty("results").EnumerateArray().ToList();

        Assert.Equal([201, 201], afterwards.Select(r => r.Int("status")));
        Assert.Equal(busyEmail, afterwards[0].GetProperty("result").Str("email"));
        Assert.Equal(whileHeld[1].GetProperty("result").ToString(), afterwards[1].GetProperty("result").ToString());
        Assert.Equal(2, await fixture.Database.CountUsersAsync([busyEmail, freeEmail]));
    }

    [Fact]
    public async Task OperationKey_FailedFirstExecution_IsNotStored_SoTheKeyRunsAgain()
    {
        var key = Key();
        var email = Unique.Email("later");
        var blocker = await _api.CreateUserAsync(email);
        var first = ApiAssert.Json(await _api.BatchAsync(CreateUser("a", email, key)), HttpStatusCode.MultiStatus);
        Assert.Equal(409, first.GetProperty("results")[0].Int("status"));
        ApiAssert.Empty(await _api.DeleteAsync($"/users/{blocker}"), HttpStatusCode.NoContent);

        var second = ApiAssert.Json(await _api.BatchAsync(CreateUser("a", email, key)), HttpStatusCode.OK);

        Assert.Equal(201, second.GetProperty("results")[0].Int("status"));
        Assert.Equal(1, await fixture.Database.CountUsersAsync([email]));
    }

    [Fact]
    public async Task OperationKey_TooLong_Returns400NamingIt()
    {
        var response = await _api.BatchAsync(CreateUser("a", Unique.Email(), new string('k', 256)));

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "operations[0].idempotencyKey");
    }

    [Fact]
    public async Task ResourceHeader_PostUsers_ReplaysTheFirstAnswer_AndAnotherBodyIs422()
    {
        var key = Key();
        var email = Unique.Email("header");
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = key };

        var first = await _api.SendAsync(HttpMethod.Post, "/users", new { email, name = "Once" }, headers);
        var second = await _api.SendAsync(HttpMethod.Post, "/users", new { email, name = "Once" }, headers);
        var other = await _api.SendAsync(HttpMethod.Post, "/users", new { email = Unique.Email("header"), name = "Twice" }, headers);

        var created = ApiAssert.Json(first, HttpStatusCode.Created);
        Assert.Equal(created.ToString(), ApiAssert.Json(second, HttpStatusCode.Created).ToString());
        Assert.Equal(first.Location, second.Location);
        Assert.Equal($"/users/{created.GetProperty("id").GetInt64()}", second.Location);
        ApiAssert.Problem(other, HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        Assert.Equal(1, await fixture.Database.CountUsersAsync([email]));
    }

    [Fact]
    public async Task SubmissionHeader_SameKey_ReturnsTheSameBatch_AndRunsNothingTwice()
    {
        var key = Key();
        var (e1, e2) = (Unique.Email("sub"), Unique.Email("sub"));
        var body = new { operations = new[] { CreateUser("a", e1), CreateUser("b", e2) } };
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = key };

        var first = await _api.SendAsync(HttpMethod.Post, "/batch", body, headers);
        var second = await _api.SendAsync(HttpMethod.Post, "/batch", body, headers);

        var firstJson = ApiAssert.Json(first, HttpStatusCode.OK);
        var secondJson = ApiAssert.Json(second, HttpStatusCode.OK);
        Assert.Equal(first.BatchId(), second.BatchId());
        Assert.Equal(firstJson.GetProperty("results").ToString(), secondJson.GetProperty("results").ToString());
        var status = await _api.StatusAsync(first.BatchId());
        Assert.Equal((2, 2, 0), (status.Int("total"), status.Int("succeeded"), status.Int("failed")));
        Assert.Equal(2, await fixture.Database.CountUsersAsync([e1, e2]));
    }

    [Fact]
    public async Task SubmissionHeader_SameKeyAsync_Returns202WithTheSameBatch()
    {
        var key = Key();
        var token = Unique.Token();
        var emails = Enumerable.Range(0, 150).Select(i => $"subasync{i}-{token}@example.com").ToList();
        var body = new { operations = emails.Select((e, i) => CreateUser($"u{i}", e)).ToArray() };
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = key };

        var first = await _api.SendAsync(HttpMethod.Post, "/batch", body, headers);
        var second = await _api.SendAsync(HttpMethod.Post, "/batch", body, headers);

        ApiAssert.Json(first, HttpStatusCode.Accepted);
        ApiAssert.Json(second, HttpStatusCode.Accepted);
        Assert.Equal(first.BatchId(), second.BatchId());
        Assert.Equal(first.Location, second.Location);
        var final = await _api.WaitUntilEndedAsync(first.BatchId());
        Assert.Equal((150, 150, 0), (final.Int("total"), final.Int("succeeded"), final.Int("failed")));
        Assert.Equal(150, await fixture.Database.CountUsersAsync(emails));
    }

    [Fact]
    public async Task SubmissionHeader_SameKeyAnotherBody_Returns422AndRunsNothing()
    {
        var key = Key();
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = key };
        var first = await _api.SendAsync(HttpMethod.Post, "/batch", new { operations = new[] { CreateUser("a", Unique.Email("k")) } }, headers);
        Assert.Equal(HttpStatusCode.OK, first.Status);
        var other = Unique.Email("k");

        var response = await _api.SendAsync(HttpMethod.Post, "/batch", new { operations = new[] { CreateUser("a", other) } }, headers);

        ApiAssert.Problem(response, HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        Assert.Equal(0, await fixture.Database.CountUsersAsync([other]));
    }

    [Fact]
    public async Task SubmissionHeader_AnInvalidEnvelopeDoesNotClaimTheKey()
    {
        var key = Key();
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = key };
        var invalid = await _api.SendAsync(HttpMethod.Post, "/batch", "{\"operations\":[]}", headers);
        ApiAssert.Problem(invalid, HttpStatusCode.BadRequest, "validation", "operations");
        var email = Unique.Email("after-invalid");

        var response = await _api.SendAsync(HttpMethod.Post, "/batch", new { operations = new[] { CreateUser("a", email) } }, headers);

        ApiAssert.Json(response, HttpStatusCode.OK);
        Assert.Equal(1, await fixture.Database.CountUsersAsync([email]));
    }

    [Fact]
    public async Task SubmissionHeader_OnImport_ReturnsTheSameBatch_AndImportsOnce()
    {
        var key = Key();
        var emails = new[] { Unique.Email("imp"), Unique.Email("imp"), Unique.Email("imp") };
        var csv = "email,name\n" + string.Join("\n", emails.Select(e => $"{e},Imported"));

        var first = await ImportAsync(csv, key);
        var second = await ImportAsync(csv, key);

        ApiAssert.Json(first, HttpStatusCode.Accepted);
        ApiAssert.Json(second, HttpStatusCode.Accepted);
        Assert.Equal(first.BatchId(), second.BatchId());
        Assert.Equal($"/batch/{first.BatchId()}/status", second.Location);
        var final = await _api.WaitUntilEndedAsync(first.BatchId());
        Assert.Equal((3, 3, 0), (final.Int("total"), final.Int("succeeded"), final.Int("failed")));
        Assert.All(await _api.AllResultsAsync(first.BatchId()), r => Assert.Equal(201, r.Int("status")));
        Assert.Equal(3, await fixture.Database.CountUsersAsync(emails));

        var batch = await _api.SendAsync(HttpMethod.Post, "/batch", new { operations = new[] { CreateUser("a", Unique.Email("same-key")) } },
            new Dictionary<string, string> { ["Idempotency-Key"] = key });
        Assert.NotEqual(first.BatchId(), ApiAssert.Json(batch, HttpStatusCode.OK).Str("batchId"));
    }

    [Fact]
    public async Task SubmissionHeader_OnImportOfAnotherFile_Returns422AndImportsNothingOfIt()
    {
        var key = Key();
        var (first, other) = (Unique.Email("key-file"), Unique.Email("key-other-file"));
        var accepted = await ImportAsync($"email,name\n{first},First\n", key);
        Assert.Equal("completed", (await _api.WaitUntilEndedAsync(accepted.BatchId())).Str("status"));

        var reused = await ImportAsync($"email,name\n{other},Other\n", key);

        ApiAssert.Problem(reused, HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        Assert.Equal(0, await fixture.Database.CountUsersAsync([other]));
        Assert.Equal(accepted.BatchId(), (await ImportAsync($"email,name\n{first},First\n", key)).BatchId());
    }

    [Fact]
    public async Task SubmissionHeader_OnImportWhoseFirstUploadFailed_ImportsTheCorrectedFile()
    {
        var key = Key();
        var email = Unique.Email("retry-upload");

        var broken = await ImportAsync($"email,name\n{email},\"Never closed\n", key);
        var corrected = await ImportAsync($"email,name\n{email},Closed\n", key);

        ApiAssert.Problem(broken, HttpStatusCode.BadRequest, "invalid-csv");
        ApiAssert.Json(corrected, HttpStatusCode.Accepted);
        var final = await _api.WaitUntilEndedAsync(corrected.BatchId());
        Assert.Equal((1, 1), (final.Int("total"), final.Int("succeeded")));
        Assert.Equal(1, await fixture.Database.CountUsersAsync([email]));
    }

    [Theory]
    [InlineData("/batch", 0)]
    [InlineData("/batch", 256)]
    [InlineData("/batch/users/import", 0)]
    [InlineData("/batch/users/import", 256)]
    [InlineData("/users", 0)]
    [InlineData("/users", 256)]
    public async Task SubmissionHeader_EmptyOrTooLong_Returns400AndRunsNothing(string path, int length)
    {
        var email = Unique.Email("badkey");
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        request.Content = path switch
        {
            "/batch" => new StringContent(JsonSerializer.Serialize(new { operations = new[] { CreateUser("a", email) } }), Encoding.UTF8, "application/json"),
            "/users" => new StringContent(JsonSerializer.Serialize(new { email, name = "Bad Key" }), Encoding.UTF8, "application/json"),
            _ => new StringContent($"email,name\n{email},Bad Key\n", Encoding.UTF8, "text/csv"),
        };
        Assert.True(request.Headers.TryAddWithoutValidation("Idempotency-Key", new string('k', length)));

        var response = await _api.SendAsync(request);

        var problem = ApiAssert.Problem(response, HttpStatusCode.BadRequest, "invalid-idempotency-key");
        Assert.Equal(255, problem.Int("limit"));
        Assert.Equal(0, await fixture.Database.CountUsersAsync([email]));
    }

    [Fact]
    public async Task SubmissionHeader_AtMaximumLength_IsAccepted()
    {
        var key = Key() + new string('k', 255 - 36);

        var response = await _api.SendAsync(HttpMethod.Post, "/batch", new { operations = new[] { CreateUser("a", Unique.Email()) } },
            new Dictionary<string, string> { ["Idempotency-Key"] = key });

        Assert.Equal(255, key.Length);
        ApiAssert.Json(response, HttpStatusCode.OK);
    }

    private static string Key() => Guid.NewGuid().ToString("D");

    private async Task<ApiResponse> ImportAsync(string csv, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/batch/users/import");
        request.Content = new StringContent(csv, Encoding.UTF8);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        request.Headers.Add("Idempotency-Key", key);
        return await _api.SendAsync(request);
    }
}
