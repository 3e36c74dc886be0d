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

/// <summary>The set-based chunk path, on a silo's own executor against the real PostgreSQL.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ExecuteManyTests(ClusterFixture fixture)
{
    private OperationExecutor Executor =>
        Assert.IsType<InProcessSiloHandle>(fixture.Cluster.GetActiveSilos().First()).SiloHost.Services.GetRequiredService<OperationExecutor>();

    [Fact]
    public async Task ExecuteMany_Creates_AnswersEachItemExactly()
    {
        var taken = Unique.Email("taken");
        var fresh = Unique.Email("fresh");
        var twice = Unique.Email("twice");
        await new BatchApi(fixture.Http).CreateUserAsync(taken);
        var key = Unique.Token();

        var responses = await Executor.ExecuteManyAsync(TenantContext.Default,
        [
            CreateUser("a", fresh, key),
            CreateUser("b", "not-an-email", key),
            CreateUser("c", taken.ToUpperInvariant(), key),
            CreateUser("d", twice, key),
            CreateUser("e", twice.ToUpperInvariant(), key),
            new("f", "POST", "/users", "{\"email\":", null, null, $"{key}:f"),
        ], CancellationToken.None);

        Assert.Equal([201, 400, 409, 201, 409, 400], responses.Select(r => r.Status));
        Assert.Equal(fresh, Json(responses[0]).GetProperty("email").GetString());
        Assert.Equal($"/users/{Json(responses[0]).GetProperty("id").GetInt64()}", responses[0].Location);
        Assert.Equal(1, await CountUsersAsync(twice));
    }

    [Fact]
    public async Task ExecuteMany_Creates_AnswerEachRowAsAReadOfItAnswers()
    {
        var key = Unique.Token();
        var api = new BatchApi(fixture.Http);

        var responses = await Executor.ExecuteManyAsync(TenantContext.Default,
        [
            new("u1", "POST", "/users", JsonSerializer.Serialize(new { email = $"  {Unique.Email("padded")} ", name = " Zoë  Ünïcode " }), null, null),
            CreateUser("u2", Unique.Email("plain"), key),
            CreateProduct("p1", Unique.Sku(), 10.50m, key),
            new("p2", "POST", "/products", $$"""{"sku":"{{Unique.Sku()}}","name":"Exp","price":1.5e2}""", null, null),
        ], CancellationToken.None);

        Assert.All(responses, r => Assert.Equal(201, r.Status));
        foreach (var created in responses)
        {
            var read = await api.GetAsync(created.Location!);
            Assert.Equal(System.Net.HttpStatusCode.OK, read.Status);
            Assert.Equal(read.Text, created.Body);
        }
    }

    [Fact]
    public async Task ExecuteMany_SameKeysAgain_ReplaysWithoutApplyingTwice()
    {
        var key = Unique.Token();
        var operations = Enumerable.Range(0, 20).Select(i => CreateUser($"r{i}", Unique.Email($"replay{i}"), key)).ToList();

        var first = await Executor.ExecuteManyAsync(TenantContext.Default, operations, CancellationToken.None);
        var second = await Executor.ExecuteManyAsync(TenantContext.Default, operations, CancellationToken.None);

        Assert.All(first, r => Assert.Equal(201, r.Status));
        Assert.Equal(first.Select(r => r.Body), second.Select(r => r.Body));
        foreach (var operation in operations)
        {
            Assert.Equal(1, await CountUsersAsync(JsonDocument.Parse(operation.Body!).RootElement.GetProperty("email").GetString()!));
        }
    }

    [Fact]
    public async Task ExecuteMany_KeyReusedWithAnotherBody_Answers422ForThatItemOnly()
    {
        var key = Unique.Token();
        await Executor.ExecuteManyAsync(TenantContext.Default, [CreateUser("a", Unique.Email("first"), key)], CancellationToken.None);

        var responses = await Executor.ExecuteManyAsync(TenantContext.Default,
            [CreateUser("a", Unique.Email("other"), key), CreateUser("b", Unique.Email("b"), key)], CancellationToken.None);

        Assert.Equal([422, 201], responses.Select(r => r.Status));
    }

    [Fact]
    public async Task ExecuteMany_KeyStillRunningElsewhere_Answers409ForThatItemOnly()
    {
        var key = Unique.Token();
        await using var holder = await fixture.Database.OpenConnectionAsync();
        await holder.ExecuteAsync("SELECT pg_advisory_lock(hashtextextended(@k, hashtext(@tenant)))", new { k = $"{key}:busy", tenant = TenantContext.Default });

        var responses = await Executor.ExecuteManyAsync(TenantContext.Default,
            [CreateUser("busy", Unique.Email("busy"), key), CreateUser("free", Unique.Email("free"), key)], CancellationToken.None);

        await holder.ExecuteAsync("SELECT pg_advisory_unlock_all()");
        Assert.Equal([409, 201], responses.Select(r => r.Status));
    }

    [Fact]
    public async Task ExecuteMany_SameKeyTwiceInOneChunk_FallsBackToOneByOne()
    {
        var email = Unique.Email("dupkey");
        var operation = CreateUser("x", email, Unique.Token());

        var responses = await Executor.ExecuteManyAsync(TenantContext.Default, [operation, operation with { Id = "y" }], CancellationToken.None);

        Assert.Equal([201, 201], responses.Select(r => r.Status));
        Assert.Equal(responses[0].Body, responses[1].Body);
        Assert.Equal(1, await CountUsersAsync(email));
    }

    [Fact]
    public async Task ExecuteMany_MixedOperations_EachAnswersAsAlone()
    {
        var api = new BatchApi(fixture.Http);
        var doomed = await api.CreateUserAsync();
        var kept = await api.CreateUserAsync();
        var key = Unique.Token();

        var responses = await Executor.ExecuteManyAsync(TenantContext.Default,
        [
            new("get", "GET", $"/users/{kept}", null, null, null),
            new("delete", "DELETE", $"/users/{doomed}", null, null, null, $"{key}:delete"),
            new("missing", "DELETE", "/users/987654321987", null, null, null, $"{key}:missing"),
            new("product", "POST", "/products", JsonSerializer.Serialize(new { sku = Unique.Sku(), name = "P", price = 1.5m }), null, null, $"{key}:product"),
            new("nowhere", "GET", "/nowhere", null, null, null),
        ], CancellationToken.None);

        Assert.Equal([200, 204, 404, 201, 404], responses.Select(r => r.Status));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await api.GetAsync($"/users/{doomed}")).Status);
    }

    [Fact]
    public async Task ExecuteMany_ProductCreates_SkuConflictsAnswer409()
    {
        var sku = Unique.Sku();
        var key = Unique.Token();

        var responses = await Executor.ExecuteManyAsync(TenantContext.Default,
        [
            CreateProduct("a", sku, 10m, key),
            CreateProduct("b", sku, 11m, key),
            CreateProduct("c", Unique.Sku(), -1m, key),
            CreateProduct("d", Unique.Sku(), 19.99m, key),
        ], CancellationToken.None);

        Assert.Equal([201, 409, 400, 201], responses.Select(r => r.Status));
        Assert.Equal(19.99m, Json(responses[3]).GetProperty("price").GetDecimal());
    }

    [Fact]
    public async Task ExecuteMany_Deletes_AnswerEachIdAsAlone_AndAReferencedRowFallsBackToOneByOne()
    {
        var api = new BatchApi(fixture.Http);
        var first = await api.CreateUserAsync();
        var second = await api.CreateUserAsync();
        var referenced = await api.CreateUserAsync();
        await api.CreateOrderAsync(referenced, await api.CreateProductAsync());
        var key = Unique.Token();

        var plain = await Executor.ExecuteManyAsync(TenantContext.Default,
        [
            DeleteUser("a", first, key),
            DeleteUser("b", 987654321987, key),
            DeleteUser("c", first, key + "-again"),
        ], CancellationToken.None);
        var withReference = await Executor.ExecuteManyAsync(TenantContext.Default,
            [DeleteUser("d", second, key), DeleteUser("e", referenced, key)], CancellationToken.None);

        Assert.Equal([204, 404, 404], plain.Select(r => r.Status));
        Assert.Equal([204, 409], withReference.Select(r => r.Status));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await api.GetAsync($"/users/{second}")).Status);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await api.GetAsync($"/users/{referenced}")).Status);
    }

    private static OperationRequest DeleteUser(string id, long userId, string key) =>
        new(id, "DELETE", $"/users/{userId}", null, null, null, $"{key}:{id}");

    private static OperationRequest CreateUser(string id, string email, string key) =>
        new(id, "POST", "/users", JsonSerializer.Serialize(new { email, name = "Chunk User" }), null, null, $"{key}:{id}");

    private static OperationRequest CreateProduct(string id, string sku, decimal price, string key) =>
        new(id, "POST", "/products", JsonSerializer.Serialize(new { sku, name = "Chunk Product", price }), null, null, $"{key}:{id}");

    private static JsonElement Json(ResourceResponse response) => JsonDocument.Parse(response.Body!).RootElement;

    private async Task<int> CountUsersAsync(string email)
    {
        await using var connection = await fixture.Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM users WHERE lower(email) = lower(@email)", new { email });
    }
}
