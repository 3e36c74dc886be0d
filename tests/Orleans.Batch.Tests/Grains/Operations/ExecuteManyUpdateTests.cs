using System.Text.Json;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Operations;
using Orleans.Batch.Grains.Resources;
using Orleans.Batch.Tests.Infrastructure;
using Orleans.TestingHost;

namespace Orleans.Batch.Tests.Grains.Operations;

/// <summary>Set-based PUT and PATCH of a chunk, on a silo's own executor against the real PostgreSQL.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ExecuteManyUpdateTests(ClusterFixture fixture)
{
    private const long MissingId = 987654321987;

    private readonly BatchApi _api = new(fixture.Http);

    private OperationExecutor Executor =>
        Assert.IsType<InProcessSiloHandle>(fixture.Cluster.GetActiveSilos().First()).SiloHost.Services.GetRequiredService<OperationExecutor>();

    [Fact]
    public async Task ExecuteMany_UserPatches_AnswerEachItemAsTheSingleRequest()
    {
        var taken = Unique.Email("taken");
        await _api.CreateUserAsync(taken);
        var (renamed, invalid, conflicting, first, second) =
            (await _api.CreateUserAsync(), await _api.CreateUserAsync(), await _api.CreateUserAsync(), await _api.CreateUserAsync(), await _api.CreateUserAsync());
        var shared = Unique.Email("shared");
        var key = Unique.Token();
        var operations = new[]
        {
            Patch("renamed", $"/users/{renamed}", new { name = "Renamed" }, key),
            Patch("missing", $"/users/{MissingId}", new { name = "Nobody" }, key),
            Patch("invalid", $"/users/{invalid}", new { email = "not-an-email" }, key),
            Patch("conflicting", $"/users/{conflicting}", new { email = taken.ToUpperInvariant() }, key),
            Patch("first", $"/users/{first}", new { email = shared }, key),
            Patch("second", $"/users/{second}", new { email = shared.ToUpperInvariant() }, key),
        };

        var responses = await Executor.ExecuteManyAsync(TenantContext.Default, operations, CancellationToken.None);

        Assert.Equal([200, 404, 400, 409, 200, 409], responses.Select(r => r.Status));
        Assert.Equal(await GetBodyAsync($"/users/{renamed}"), responses[0].Body);
        Assert.Equal(await GetBodyAsync($"/users/{first}"), responses[4].Body);
        Assert.Equal("Renamed", Json(responses[0]).GetProperty("name").GetString());
        Assert.Equal(shared, Json(responses[4]).GetProperty("email").GetString());
        foreach (var i in new[] { 1, 2, 3, 5 })
        {
            Assert.Equal((await SingleAsync(operations[i])).Body, responses[i].Body);
        }

        Assert.Equal(1, await WritersAsync("users", renamed, first));
        Assert.NotEqual(taken.ToUpperInvariant(), await EmailOfAsync(conflicting));
        Assert.NotEqual(shared.ToUpperInvariant(), await EmailOfAsync(second));
    }

    [Fact]
    public async Task ExecuteMany_PutAndPatch_PutNeedsEveryFieldAndPatchKeepsTheRest()
    {
        var (putPartial, patched, put, nulled) =
            (await _api.CreateUserAsync(), await _api.CreateUserAsync(), await _api.CreateUserAsync(), await _api.CreateUserAsync());
        var patchedEmail = await EmailOfAsync(patched);
        var putEmail = Unique.Email("put");
        var key = Unique.Token();
        var operations = new[]
        {
            Put("put-partial", $"/users/{putPartial}", new { name = "Only Name" }, key),
            Patch("patched", $"/users/{patched}", new { name = "Only Name" }, key),
            Put("put", $"/users/{put}", new { email = putEmail, name = "Put Name" }, key),
            new("nulled", "PATCH", $"/users/{nulled}", """{"email":null}""", null, null, $"{key}:nulled"),
        };

        var responses = await Executor.ExecuteManyAsync(TenantContext.Default, operations, CancellationToken.None);

        Assert.Equal([400, 200, 200, 400], responses.Select(r => r.Status));
        Assert.Equal((await SingleAsync(operations[0])).Body, responses[0].Body);
        Assert.Equal((await SingleAsync(operations[3])).Body, responses[3].Body);
        Assert.Contains("email", Json(responses[0]).GetProperty("errors").EnumerateObject().Select(p => p.Name));
        Assert.Equal((patchedEmail, "Only Name"), (Json(responses[1]).GetProperty("email").GetString(), Json(responses[1]).GetProperty("name").GetString()));
        Assert.Equal((putEmail, "Put Name"), (Json(responses[2]).GetProperty("email").GetString(), Json(responses[2]).GetProperty("name").GetString()));
        Assert.Equal(await GetBodyAsync($"/users/{put}"), responses[2].Body);
        Assert.Equal("Test User", Json(await SingleAsync(new("get", "GET", $"/users/{putPartial}", null, null, null))).GetProperty("name").GetString());
    }

    [Fact]
    public async Task ExecuteMany_ProductUpdates_SkuConflictsAnswer409AndPricesApply()
    {
        var (kept, conflicting, first, second, negative) =
            (await _api.CreateProductAsync(), await _api.CreateProductAsync(), await _api.CreateProductAsync(), await _api.CreateProductAsync(), await _api.CreateProductAsync());
        var keptSku = Json(await SingleAsync(new("get", "GET", $"/products/{kept}", null, null, null))).GetProperty("sku").GetString();
        var sku = Unique.Sku();
        var key = Unique.Token();
        var operations = new[]
        {
            Put("kept", $"/products/{kept}", new { sku = keptSku, name = "Kept", price = 12.5m }, key),
            Patch("conflicting", $"/products/{conflicting}", new { sku = keptSku }, key),
            Patch("first", $"/products/{first}", new { sku }, key),
            Patch("second", $"/products/{second}", new { sku, price = 1m }, key),
            Patch("negative", $"/products/{negative}", new { price = -1m }, key),
        };

        var responses = await Executor.ExecuteManyAsync(TenantContext.Default, operations, CancellationToken.None);

        Assert.Equal([200, 409, 200, 409, 400], responses.Select(r => r.Status));
        Assert.Equal(12.5m, Json(responses[0]).GetProperty("price").GetDecimal());
        Assert.Equal(await GetBodyAsync($"/products/{kept}"), responses[0].Body);
        Assert.Equal(await GetBodyAsync($"/products/{first}"), responses[2].Body);
        foreach (var i in new[] { 1, 3, 4 })
        {
            Assert.Equal((await SingleAsync(operations[i])).Body, responses[i].Body);
        }

        Assert.Equal(9.99m, Json(await SingleAsync(new("get", "GET", $"/products/{second}", null, null, null))).GetProperty("price").GetDecimal());
        Assert.Equal(1, await WritersAsync("products", kept, first));
    }

    [Fact]
    public async Task ExecuteMany_SameUserTwice_AnswersAsInSequence()
    {
        var (twice, other) = (await _api.CreateUserAsync(), await _api.CreateUserAsync());
        var email = Unique.Email("twice");
        var key = Unique.Token();

        var responses = await Executor.ExecuteManyAsync(TenantContext.Default,
        [
            Patch("email", $"/users/{twice}", new { email }, key),
            Patch("other", $"/users/{other}", new { name = "Other" }, key),
            Patch("name", $"/users/{twice}", new { name = "Twice" }, key),
        ], CancellationToken.None);

        Assert.Equal([200, 200, 200], responses.Select(r => r.Status));
        Assert.Equal((email, "Test User"), (Json(responses[0]).GetProperty("email").GetString(), Json(responses[0]).GetProperty("name").GetString()));
        Assert.Equal((email, "Twice"), (Json(responses[2]).GetProperty("email").GetString(), Json(responses[2]).GetProperty("name").GetString()));
        Assert.Equal(await GetBodyAsync($"/users/{twice}"), responses[2].Body);
        Assert.Equal("Other", Json(responses[1]).GetProperty("name").GetString());
    }

    [Fact]
    public async Task ExecuteMany_SameKeysAgain_ReplaysUpdatesWithoutApplyingThemTwice()
    {
        var (first, second) = (await _api.CreateUserAsync(), await _api.CreateUserAsync());
        var key = Unique.Token();
        var operations = new[] { Patch("a", $"/users/{first}", new { name = "Keyed A" }, key), Patch("b", $"/users/{second}", new { name = "Keyed B" }, key) };

        var original = await Executor.ExecuteManyAsync(TenantContext.Default, operations, CancellationToken.None);
        await SingleAsync(Patch("later", $"/users/{first}", new { name = "Later" }, key));
        var replayed = await Executor.ExecuteManyAsync(TenantContext.Default, operations, CancellationToken.None);
        var reused = await Executor.ExecuteManyAsync(TenantContext.Default, [operations[1] with { Body = """{"name":"Other"}""" }], CancellationToken.None);

        Assert.Equal([200, 200], original.Select(r => r.Status));
        Assert.Equal(original.Select(r => r.Body), replayed.Select(r => r.Body));
        Assert.Equal("Later", Json((await SingleAsync(new("get", "GET", $"/users/{first}", null, null, null)))).GetProperty("name").GetString());
        Assert.Equal(422, Assert.Single(reused).Status);
    }

    [Fact]
    public async Task ExecuteMany_EmailMovingBetweenUsers_AnswersAsInSequence()
    {
        var (leaver, taker, blocked, holder) =
            (await _api.CreateUserAsync(), await _api.CreateUserAsync(), await _api.CreateUserAsync(), await _api.CreateUserAsync());
        var (leaverEmail, holderEmail) = (await EmailOfAsync(leaver), await EmailOfAsync(holder));
        var key = Unique.Token();

        var freedFirst = await Executor.ExecuteManyAsync(TenantContext.Default,
            [Patch("leave", $"/users/{leaver}", new { email = Unique.Email("left") }, key), Patch("take", $"/users/{taker}", new { email = leaverEmail }, key)],
            CancellationToken.None);
        var takenFirst = await Executor.ExecuteManyAsync(TenantContext.Default,
            [Patch("blocked", $"/users/{blocked}", new { email = holderEmail }, key), Patch("hold", $"/users/{holder}", new { email = Unique.Email("held") }, key)],
            CancellationToken.None);

        Assert.Equal([200, 200], freedFirst.Select(r => r.Status));
        Assert.Equal(leaverEmail, await EmailOfAsync(taker));
        Assert.Equal([409, 200], takenFirst.Select(r => r.Status));
        Assert.NotEqual(holderEmail, await EmailOfAsync(blocked));
    }

    [Fact]
    public async Task ExecuteMany_OrderUpdates_AnswerAsAlone_AndAMissingReferenceFallsBackToOneByOne()
    {
        var (userId, productId) = (await _api.CreateUserAsync(), await _api.CreateProductAsync());
        var orders = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            orders.Add(await _api.CreateOrderAsync(userId, productId));
        }

        var otherProduct = await _api.CreateProductAsync();
        var key = Unique.Token();
        var plain = new[]
        {
            Patch("paid", $"/orders/{orders[0]}", new { status = "paid" }, key),
            Put("put", $"/orders/{orders[1]}", new { userId, productId = otherProduct, quantity = 3, status = "shipped" }, key),
            Patch("missing", $"/orders/{MissingId}", new { status = "paid" }, key),
            Patch("invalid", $"/orders/{orders[2]}", new { status = "lost" }, key),
        };
        var withMissingReference = new[]
        {
            Patch("quantity", $"/orders/{orders[0]}", new { quantity = 5 }, key),
            Patch("reference", $"/orders/{orders[3]}", new { productId = MissingId }, key),
        };

        var plainResponses = await Executor.ExecuteManyAsync(TenantContext.Default, plain, CancellationToken.None);
        var plainWriters = await WritersAsync("orders", orders[0], orders[1]);
        var referenceResponses = await Executor.ExecuteManyAsync(TenantContext.Default, withMissingReference, CancellationToken.None);

        Assert.Equal([200, 200, 404, 400], plainResponses.Select(r => r.Status));
        Assert.Equal(1, plainWriters);
        Assert.Equal([200, 422], referenceResponses.Select(r => r.Status));
        Assert.Equal((await SingleAsync(withMissingReference[1])).Body, referenceResponses[1].Body);
        Assert.Equal(await GetBodyAsync($"/orders/{orders[0]}"), referenceResponses[0].Body);
        var order = Json(referenceResponses[0]);
        Assert.Equal(("paid", 5), (order.GetProperty("status").GetString(), order.GetProperty("quantity").GetInt32()));
        var put = Json(plainResponses[1]);
        Assert.Equal((otherProduct, 3, "shipped"), (put.GetProperty("productId").GetInt64(), put.GetProperty("quantity").GetInt32(), put.GetProperty("status").GetString()));
    }

    private static OperationRequest Patch(string id, string path, object body, string key) =>
        new(id, "PATCH", path, JsonSerializer.Serialize(body), null, null, $"{key}:{id}");

    private static OperationRequest Put(string id, string path, object body, string key) =>
        new(id, "PUT", path, JsonSerializer.Serialize(body), null, null, $"{key}:{id}");

    private static JsonElement Json(ResourceResponse response) => JsonDocument.Parse(response.Body!).RootElement;

    /// <summary>What the single-item path answers the operation, without its idempotency key.</summary>
    private Task<ResourceResponse> SingleAsync(OperationRequest operation) =>
        Executor.ExecuteAsync(TenantContext.Default, operation.Method, operation.Path, operation.Body, null, CancellationToken.None);

    private async Task<string?> GetBodyAsync(string path) => (await SingleAsync(new("get", "GET", path, null, null, null))).Body;

    private async Task<string> EmailOfAsync(long userId) =>
        Json(await SingleAsync(new("get", "GET", $"/users/{userId}", null, null, null))).GetProperty("email").GetString()!;

    /// <summary>
    /// How many (sub)transactions last wrote these rows: one when a single set-based statement updated them all,
    /// one a row when each ran on its own under a savepoint.
    /// </summary>
    private async Task<int> WritersAsync(string table, params long[] ids)
    {
        await using var connection = await fixture.Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<int>($"SELECT count(DISTINCT xmin::text) FROM {table} WHERE id = ANY(@ids)", new { ids });
    }
}
