using System.Net;
using System.Text;
using System.Text.Json;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Gateway;

[Collection(ClusterCollection.Name)]
public sealed class BatchEndpointsTests(ClusterFixture fixture)
{
    private readonly BatchApi _api = new(fixture.Http);

    [Fact]
    public async Task Submit_AllSucceed_Returns200WithResultsInRequestOrder()
    {
        var emails = Enumerable.Range(0, 25).Select(i => Unique.Email($"ok{i}")).ToList();

        var response = await _api.BatchAsync([.. emails.Select((e, i) => CreateUser($"u{i}", e))]);

        Assert.Equal(HttpStatusCode.OK, response.Status);
        var json = response.Json;
        Assert.Equal("completed", json.GetProperty("status").GetString());
        Assert.Equal(32, json.GetProperty("batchId").GetString()!.Length);
        AssertSummary(json, total: 25, succeeded: 25, failed: 0);
        var results = json.GetProperty("results").EnumerateArray().ToList();
        for (var i = 0; i < emails.Count; i++)
        {
            Assert.Equal($"u{i}", results[i].GetProperty("id").GetString());
            Assert.Equal(201, results[i].GetProperty("status").GetInt32());
            Assert.Equal(emails[i], results[i].GetProperty("result").GetProperty("email").GetString());
            var id = results[i].GetProperty("result").GetProperty("id").GetInt64();
            Assert.Equal($"/users/{id}", results[i].GetProperty("headers").GetProperty("location").GetString());
        }
    }

    [Fact]
    public async Task Submit_FailingItems_Returns207WithEachItemsOwnStatus()
    {
        var taken = Unique.Email("taken");
        await _api.CreateUserAsync(taken);
        var userId = await _api.CreateUserAsync();
        var doomedUserId = await _api.CreateUserAsync();

        var response = await _api.BatchAsync(
            CreateUser("created", Unique.Email("fresh")),
            CreateUser("invalid", "not-an-email"),
            CreateUser("conflict", taken.ToUpperInvariant()),
            new { id = "missing", method = "GET", path = "/users/987654321987" },
            new { id = "missing-ref", method = "POST", path = "/orders", body = new { userId, productId = 987654321987L, quantity = 1 } },
            new { id = "unknown-path", method = "GET", path = "/widgets/1" },
            new { id = "bad-method", method = "PUT", path = "/users" },
            new { id = "deleted", method = "DELETE", path = $"/users/{doomedUserId}" });

        Assert.Equal(HttpStatusCode.MultiStatus, response.Status);
        AssertSummary(response.Json, total: 8, succeeded: 2, failed: 6);
        var results = response.Json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(
            ["created", "invalid", "conflict", "missing", "missing-ref", "unknown-path", "bad-method", "deleted"],
            results.Select(r => r.GetProperty("id").GetString()));
        Assert.Equal([201, 400, 409, 404, 422, 404, 405, 204], results.Select(r => r.GetProperty("status").GetInt32()));
        Assert.True(results[1].GetProperty("error").GetProperty("errors").TryGetProperty("email", out _));
        Assert.True(results[4].GetProperty("error").GetProperty("errors").TryGetProperty("productId", out _));
        Assert.Equal(405, results[6].GetProperty("error").GetProperty("status").GetInt32());
        Assert.False(results[7].TryGetProperty("result", out _));
        Assert.False(results[7].TryGetProperty("error", out _));
    }

    [Fact]
    public async Task Submit_MixedResources_EffectsVisibleThroughGet()
    {
        var userId = await _api.CreateUserAsync();
        var productId = await _api.CreateProductAsync();
        var orderId = await _api.CreateOrderAsync(userId, productId);
        var otherProductId = await _api.CreateProductAsync(price: 5m);
        var doomedProductId = await _api.CreateProductAsync();
        var email = Unique.Email("mixed");

        var response = await _api.BatchAsync(
            CreateUser("new-user", email),
            new { id = "replace-order", method = "PUT", path = $"/orders/{orderId}", body = new { userId, productId = otherProductId, quantity = 3, status = "paid" } },
            new { id = "delete-product", method = "DELETE", path = $"/products/{doomedProductId}" });

        Assert.Equal(HttpStatusCode.OK, response.Status);
        var found = await _api.GetAsync($"/users?email={Uri.EscapeDataString(email)}");
        var user = Assert.Single(found.Json.GetProperty("items").EnumerateArray());
        Assert.Equal("Batch User", user.GetProperty("name").GetString());
        var order = (await _api.GetAsync($"/orders/{orderId}")).Json;
        Assert.Equal(otherProductId, order.GetProperty("productId").GetInt64());
        Assert.Equal(3, order.GetProperty("quantity").GetInt32());
        Assert.Equal("paid", order.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await _api.GetAsync($"/products/{doomedProductId}")).Status);
    }

    [Fact]
    public async Task Submit_MalformedJson_Returns400()
    {
        var response = await _api.PostAsync("/batch", "{\"operations\": [");

        AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.Contains("not valid JSON", response.Json.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"operations\":null}")]
    [InlineData("{\"operations\":[]}")]
    [InlineData("{\"operations\":{}}")]
    [InlineData("[]")]
    public async Task Submit_MissingOrEmptyOperations_Returns400(string body)
    {
        var response = await _api.PostAsync("/batch", body);

        AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.NotEmpty(response.ErrorsFor("operations").Concat(response.ErrorsFor("$")));
    }

    [Theory]
    [InlineData("id")]
    [InlineData("method")]
    [InlineData("path")]
    public async Task Submit_OperationWithoutRequiredField_Returns400NamingIt(string field)
    {
        var email = Unique.Email("never");
        var incomplete = new Dictionary<string, object> { ["id"] = "second", ["method"] = "POST", ["path"] = "/users", ["body"] = new { email, name = "x" } };
        incomplete.Remove(field);

        var response = await _api.BatchAsync(CreateUser("first", Unique.Email("never")), incomplete);

        AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.Equal(["Is required."], response.ErrorsFor($"operations[1].{field}"));
        await AssertNoUserAsync(email);
    }

    [Fact]
    public async Task Submit_DuplicateIds_Returns400NamingThemAndExecutesNothing()
    {
        var email = Unique.Email("dup");

        var response = await _api.BatchAsync(
            CreateUser("a", email), CreateUser("b", Unique.Email()), CreateUser("a", Unique.Email()), CreateUser("b", Unique.Email()));

        AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.Equal(["a", "b"], response.Json.GetProperty("duplicateIds").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("a, b", Assert.Single(response.ErrorsFor("operations")));
        await AssertNoUserAsync(email);
    }

    [Fact]
    public async Task Submit_OverOperationLimit_Returns413WithLimitCountAndHint()
    {
        var operations = Enumerable.Range(0, ClusterFixture.MaxOperations + 1)
            .Select(i => (object)new { id = $"g{i}", method = "GET", path = "/users/1" }).ToArray();

        var response = await _api.BatchAsync(operations);

        AssertProblem(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(ClusterFixture.MaxOperations, response.Json.GetProperty("limit").GetInt32());
        Assert.Equal(ClusterFixture.MaxOperations + 1, response.Json.GetProperty("received").GetInt32());
        Assert.Contains("Split", response.Json.GetProperty("hint").GetString());
    }

    [Fact]
    public async Task Submit_AtOperationLimit_RunsEveryOperation()
    {
        var token = Unique.Token();
        var operations = Enumerable.Range(0, ClusterFixture.MaxOperations)
            .Select(i => (object)CreateUser($"op{i}", $"limit{i}-{token}@example.com")).ToArray();

        var response = await _api.PostAsync("/batch", new { mode = "sync", operations });

        Assert.Equal(HttpStatusCode.OK, response.Status);
        AssertSummary(response.Json, total: ClusterFixture.MaxOperations, succeeded: ClusterFixture.MaxOperations, failed: 0);
    }

    [Fact]
    public async Task Submit_BodyOverLimit_Returns413()
    {
        using var content = new StringContent($"{{\"operations\":[],\"pad\":\"{new string(' ', 10 * 1024 * 1024)}\"}}", Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/batch") { Content = content };
        request.Headers.ExpectContinue = true;

        using var raw = await fixture.Http.SendAsync(request);
        var response = await ApiResponse.ReadAsync(raw);

        AssertProblem(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(10 * 1024 * 1024, response.Json.GetProperty("limit").GetInt64());
    }

    [Fact]
    public async Task Submit_ChunkedBodyOverLimit_Returns413()
    {
        var padding = Encoding.UTF8.GetBytes($"{{\"operations\":[],\"pad\":\"{new string(' ', 10 * 1024 * 1024)}\"}}");
        using var content = new StreamContent(new MemoryStream(padding));
        content.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/batch") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var raw = await fixture.Http.SendAsync(request);
        var response = await ApiResponse.ReadAsync(raw);

        AssertProblem(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Submit_NotJsonContentType_Returns415()
    {
        using var content = new StringContent("{\"operations\":[]}", Encoding.UTF8, "text/plain");
        using var raw = await fixture.Http.PostAsync("/batch", content);

        AssertProblem(await ApiResponse.ReadAsync(raw), HttpStatusCode.UnsupportedMediaType);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("\"many\"")]
    [InlineData("2.5")]
    public async Task Submit_InvalidConcurrency_Returns400(string concurrency)
    {
        var response = await _api.PostAsync("/batch",
            $"{{\"concurrency\":{concurrency},\"operations\":[{{\"id\":\"a\",\"method\":\"GET\",\"path\":\"/users/1\"}}]}}");

        AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.NotEmpty(response.ErrorsFor("concurrency"));
    }

    [Fact]
    public async Task Submit_ConcurrencyOverMaximum_IsClampedAndReported()
    {
        var submitted = await _api.PostAsync("/batch", new { concurrency = 5000, operations = new[] { CreateUser("a", Unique.Email()) } });
        var status = await _api.GetAsync($"/batch/{submitted.Json.GetProperty("batchId").GetString()}/status");

        Assert.Equal(32, status.Json.GetProperty("concurrency").GetInt32());
    }

    [Fact]
    public async Task Status_AfterCompletion_ReportsCounts()
    {
        var submitted = await _api.BatchAsync(CreateUser("a", Unique.Email()), CreateUser("b", "bad"), CreateUser("c", Unique.Email()));
        var batchId = submitted.Json.GetProperty("batchId").GetString();

        var status = await _api.GetAsync($"/batch/{batchId}/status");

        Assert.Equal(HttpStatusCode.OK, status.Status);
        var json = status.Json;
        Assert.Equal(batchId, json.GetProperty("batchId").GetString());
        Assert.Equal("completed", json.GetProperty("status").GetString());
        Assert.Equal(3, json.GetProperty("total").GetInt32());
        Assert.Equal(3, json.GetProperty("completed").GetInt32());
        Assert.Equal(2, json.GetProperty("succeeded").GetInt32());
        Assert.Equal(1, json.GetProperty("failed").GetInt32());
        Assert.Equal(1.0, json.GetProperty("progress").GetDouble());
    }

    [Fact]
    public async Task Results_Paged_ReturnsEveryItemOnceInRequestOrder()
    {
        var operations = Enumerable.Range(0, 7).Select(i => (object)CreateUser($"r{i}", i == 3 ? "bad" : Unique.Email())).ToArray();
        var batchId = (await _api.BatchAsync(operations)).Json.GetProperty("batchId").GetString();

        var ids = new List<string>();
        string? cursor = null;
        do
        {
            var page = await _api.GetAsync($"/batch/{batchId}/results?limit=3" + (cursor is null ? "" : $"&cursor={cursor}"));
            Assert.Equal(HttpStatusCode.OK, page.Status);
            ids.AddRange(page.Json.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!));
            cursor = page.Json.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"r{i}"), ids);
        var all = await _api.GetAsync($"/batch/{batchId}/results");
        Assert.Equal(400, all.Json.GetProperty("items")[3].GetProperty("status").GetInt32());
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=100000")]
    [InlineData("cursor=abc")]
    [InlineData("cursor=-1")]
    public async Task Results_InvalidQuery_Returns400(string query)
    {
        var batchId = (await _api.BatchAsync(CreateUser("a", Unique.Email()))).Json.GetProperty("batchId").GetString();

        AssertProblem(await _api.GetAsync($"/batch/{batchId}/results?{query}"), HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("status")]
    [InlineData("results")]
    public async Task UnknownBatch_Returns404Problem(string what)
    {
        var response = await _api.GetAsync($"/batch/{Guid.NewGuid():N}/{what}");

        AssertProblem(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Health_ClusterAndDatabaseUp_Returns200()
    {
        var response = await _api.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.Equal("healthy", response.Json.GetProperty("status").GetString());
        Assert.Equal("ok", response.Json.GetProperty("database").GetString());
    }

    private static object CreateUser(string id, string email) =>
        new { id, method = "POST", path = "/users", body = new { email, name = "Batch User" } };

    private static void AssertSummary(JsonElement json, int total, int succeeded, int failed)
    {
        var summary = json.GetProperty("summary");
        Assert.Equal(total, summary.GetProperty("total").GetInt32());
        Assert.Equal(succeeded, summary.GetProperty("succeeded").GetInt32());
        Assert.Equal(failed, summary.GetProperty("failed").GetInt32());
    }

    private static void AssertProblem(ApiResponse response, HttpStatusCode status)
    {
        Assert.Equal(status, response.Status);
        Assert.Equal("application/problem+json", response.ContentType);
        Assert.Equal((int)status, response.Json.GetProperty("status").GetInt32());
        Assert.StartsWith("urn:orleans-batch:problem:", response.Json.GetProperty("type").GetString());
    }

    private async Task AssertNoUserAsync(string email)
    {
        var found = await _api.GetAsync($"/users?email={Uri.EscapeDataString(email)}");
        Assert.Empty(found.Json.GetProperty("items").EnumerateArray());
    }
}
