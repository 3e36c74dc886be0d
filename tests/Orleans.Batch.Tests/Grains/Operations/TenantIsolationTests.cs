using System.Text.Json;
using Dapper;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Grains.Operations;

/// <summary>
/// The resources and their idempotency keys belong to the tenant a grain call carries, enforced in the silo: these tests
/// call the grains directly, each with the tenant it sets in <see cref="RequestContext"/>, past any gateway.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class TenantIsolationTests(ClusterFixture fixture)
{
    [Theory]
    [InlineData("users")]
    [InlineData("products")]
    [InlineData("orders")]
    public async Task Execute_OtherTenantsResource_AnswersExactlyAsAMissingOne(string collection)
    {
        var (owner, other) = (Tenant("owner"), Tenant("other"));
        var created = await ExecuteAsync(owner, "POST", $"/{collection}", await NewBodyAsync(owner, collection));
        Assert.Equal(201, created.Status);
        var path = created.Location!;
        var change = await NewBodyAsync(owner, collection);

        var asOther = await EveryMethodAsync(other, path, change);

        Assert.Equal([404, 404, 404, 404], asOther.Select(r => r.Status));
        var read = await ExecuteAsync(owner, "GET", path);
        Assert.Equal((200, created.Body), (read.Status, read.Body));

        // Once the owner deletes it, the owner's own answers for the id are exactly what the other tenant got.
        Assert.Equal(204, (await ExecuteAsync(owner, "DELETE", path)).Status);
        var asMissing = await EveryMethodAsync(owner, path, change);
        Assert.Equal(asMissing.Select(r => (r.Status, r.Body)), asOther.Select(r => (r.Status, r.Body)));
    }

    [Fact]
    public async Task Create_SameEmailAndSkuInTwoTenants_BothCreated_AndEachListsItsOwn()
    {
        var (first, second) = (Tenant("first"), Tenant("second"));
        var email = Unique.Email("shared");
        var sku = Unique.Sku();

        var users = new[] { await ExecuteAsync(first, "POST", "/users", new { email, name = "First" }), await ExecuteAsync(second, "POST", "/users", new { email, name = "Second" }) };
        var products = new[]
        {
            await ExecuteAsync(first, "POST", "/products", new { sku, name = "First", price = 1 }),
            await ExecuteAsync(second, "POST", "/products", new { sku, name = "Second", price = 2 }),
        };

        Assert.All(users.Concat(products), r => Assert.Equal(201, r.Status));
        Assert.NotEqual(users[0].Location, users[1].Location);
        Assert.Equal(["First"], Names(await ExecuteAsync(first, "GET", $"/users?email={email}")));
        Assert.Equal(["Second"], Names(await ExecuteAsync(second, "GET", $"/users?email={email}")));
        Assert.Equal(["Second"], Names(await ExecuteAsync(second, "GET", $"/products?sku={sku}")));

        // Within one tenant the values stay unique.
        Assert.Equal(409, (await ExecuteAsync(second, "POST", "/users", new { email = email.ToUpperInvariant(), name = "Again" })).Status);
        Assert.Equal(409, (await ExecuteAsync(first, "POST", "/products", new { sku, name = "Again", price = 3 })).Status);
    }

    [Fact]
    public async Task Order_ReferencingAnotherTenantsUserOrProduct_AnswersAsAMissingReference()
    {
        var (owner, other) = (Tenant("owner"), Tenant("other"));
        var ownersUser = await CreateAsync(owner, "/users", new { email = Unique.Email("owner"), name = "Owner" });
        var ownersProduct = await CreateAsync(owner, "/products", new { sku = Unique.Sku(), name = "Owner's", price = 1 });
        var user = await CreateAsync(other, "/users", new { email = Unique.Email("other"), name = "Other" });
        var product = await CreateAsync(other, "/products", new { sku = Unique.Sku(), name = "Other's", price = 1 });
        const long missing = long.MaxValue - 7;

        var foreignUser = await ExecuteAsync(other, "POST", "/orders", new { userId = ownersUser, productId = product, quantity = 1 });
        var missingUser = await ExecuteAsync(other, "POST", "/orders", new { userId = missing, productId = product, quantity = 1 });
        var foreignProduct = await ExecuteAsync(other, "POST", "/orders", new { userId = user, productId = ownersProduct, quantity = 1 });
        var missingProduct = await ExecuteAsync(other, "POST", "/orders", new { userId = user, productId = missing, quantity = 1 });

        Assert.Equal((422, missingUser.Body), (foreignUser.Status, foreignUser.Body));
        Assert.Equal((422, missingProduct.Body), (foreignProduct.Status, foreignProduct.Body));

        var order = await ExecuteAsync(other, "POST", "/orders", new { userId = user, productId = product, quantity = 1 });
        Assert.Equal(201, order.Status);
        var movedToForeign = await ExecuteAsync(other, "PATCH", order.Location!, new { userId = ownersUser });
        var movedToMissing = await ExecuteAsync(other, "PATCH", order.Location!, new { userId = missing });
        Assert.Equal((422, movedToMissing.Body), (movedToForeign.Status, movedToForeign.Body));
    }

    [Fact]
    public async Task Execute_WithoutTenant_IsRefusedAndRunsNothing()
    {
        var email = Unique.Email("untenanted");
        TenantContext.Clear();

        await Assert.ThrowsAsync<TenantRequiredException>(() => fixture.Grains.GetGrain<IOperationGrain>(0).ExecuteAsync(
            new OperationRequest("op", "POST", "/users", JsonSerializer.Serialize(new { email, name = "Nobody's" }), null, null, Unique.Token())));
        var chunk = fixture.Grains.GetGrain<IChunkGrain>(0);
        var items = BatchItemSlice.Of([new BatchItem(new OperationRequest("op", "POST", "/users", JsonSerializer.Serialize(new { email, name = "Nobody's" }), null, "none"))]);
        await Assert.ThrowsAsync<TenantRequiredException>(() => chunk.ExecuteAsync("none", [0], items, resent: false));
        await Assert.ThrowsAsync<TenantRequiredException>(() => chunk.CreateStagedAsync("none", "/users", [0], new StagedRows([[email], ["Nobody's"]])));

        await using var connection = await fixture.Database.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM users WHERE lower(email) = lower(@email)", new { email }));
    }

    [Fact]
    public async Task Batch_SameItemKeyInTwoTenants_RunsInBoth_AndReplaysInEach()
    {
        var (first, second) = (Tenant("first"), Tenant("second"));
        var key = Unique.Token();
        var keyed = new OperationRequest("keyed", "POST", "/users", JsonSerializer.Serialize(new { email = Unique.Email("keyed"), name = "Keyed" }), null, null, key);

        var firstRun = await RunBatchAsync(first, [keyed]);
        var secondRun = await RunBatchAsync(second, [keyed]);
        var firstAgain = await RunBatchAsync(first, [keyed]);

        Assert.Equal((201, 201), (firstRun[0].Status, secondRun[0].Status));
        Assert.NotEqual(firstRun[0].Location, secondRun[0].Location);
        Assert.Equal((201, firstRun[0].Body), (firstAgain[0].Status, firstAgain[0].Body));
        await using var connection = await fixture.Database.OpenConnectionAsync();
        var kept = (await connection.QueryAsync<(string Tenant, TimeSpan Kept)>(
            "SELECT tenant_id, expires_at - created_at FROM idempotency_records WHERE key = @key ORDER BY tenant_id", new { key })).ToList();
        // Each tenant's key is kept for its idempotency retention (the configured default here).
        Assert.Equal(new[] { (first, TimeSpan.FromHours(24)), (second, TimeSpan.FromHours(24)) }.OrderBy(k => k.Item1, StringComparer.Ordinal), kept);
    }

    [Fact]
    public async Task Batch_SameStagedCreatesInTwoTenants_RunInBoth()
    {
        var (first, second) = (Tenant("first"), Tenant("second"));
        // More than a chunk of creates without keys: they run staged, from the values the batch holds.
        var emails = Enumerable.Range(0, 120).Select(i => Unique.Email($"staged{i}")).ToList();
        var operations = emails.Select((email, i) => new OperationRequest($"c{i}", "POST", "/users", JsonSerializer.Serialize(new { email, name = "Staged" }), null, null)).ToList();

        var firstRun = await RunBatchAsync(first, operations);
        var secondRun = await RunBatchAsync(second, operations);

        Assert.All(firstRun.Concat(secondRun), r => Assert.Equal(201, r.Status));
        await using var connection = await fixture.Database.OpenConnectionAsync();
        var owners = (await connection.QueryAsync<(string Tenant, int Count)>(
            "SELECT tenant_id, count(*)::int FROM users WHERE email = ANY(@emails) GROUP BY tenant_id ORDER BY tenant_id", new { emails })).ToList();
        Assert.Equal(new[] { (first, 120), (second, 120) }.OrderBy(o => o.Item1, StringComparer.Ordinal), owners);
    }

    /// <summary>A tenant id no other test uses.</summary>
    private static string Tenant(string prefix) => $"{prefix}-{Unique.Token()}";

    private async Task<OperationResult> ExecuteAsync(string tenant, string method, string path, object? body = null)
    {
        TenantContext.Set(tenant);
        try
        {
            return await fixture.Grains.GetGrain<IOperationGrain>(0).ExecuteAsync(
                new OperationRequest("op", method, path, body is null ? null : JsonSerializer.Serialize(body), null, null));
        }
        finally
        {
            TenantContext.Clear();
        }
    }

    private async Task<long> CreateAsync(string tenant, string collection, object body)
    {
        var created = await ExecuteAsync(tenant, "POST", collection, body);
        Assert.Equal(201, created.Status);
        return JsonDocument.Parse(created.Body!).RootElement.GetProperty("id").GetInt64();
    }

    /// <summary>GET, PUT, PATCH and DELETE of <paramref name="path"/>, the writes with <paramref name="body"/>.</summary>
    private async Task<List<OperationResult>> EveryMethodAsync(string tenant, string path, object body) =>
    [
        await ExecuteAsync(tenant, "GET", path),
        await ExecuteAsync(tenant, "PUT", path, body),
        await ExecuteAsync(tenant, "PATCH", path, body),
        await ExecuteAsync(tenant, "DELETE", path),
    ];

    /// <summary>A valid body of a create (and a full update) of <paramref name="collection"/> in <paramref name="tenant"/>.</summary>
    private async Task<object> NewBodyAsync(string tenant, string collection) => collection switch
    {
        "users" => new { email = Unique.Email("isolated"), name = "Isolated" },
        "products" => new { sku = Unique.Sku(), name = "Isolated", price = 5 },
        _ => new
        {
            userId = await CreateAsync(tenant, "/users", new { email = Unique.Email("buyer"), name = "Buyer" }),
            productId = await CreateAsync(tenant, "/products", new { sku = Unique.Sku(), name = "Bought", price = 5 }),
            quantity = 2,
            status = "paid",
        },
    };

    private static List<string> Names(OperationResult listing) =>
        [.. JsonDocument.Parse(listing.Body!).RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()!)];

    private async Task<IReadOnlyList<OperationResult>> RunBatchAsync(string tenant, IReadOnlyList<OperationRequest> operations)
    {
        TenantContext.Set(tenant);
        try
        {
            var grain = fixture.Grains.GetGrain<IBatchGrain>(Guid.NewGuid().ToString("N"));
            await grain.StartAsync(new BatchRequest(operations, 4));
            for (var i = 0; i < 30; i++)
            {
                if (await grain.WaitAsync(TimeSpan.FromSeconds(5)) is not null)
                {
                    return [.. (await grain.GetResultsAsync(-1, 10_000, null))!.Items.Select(item => item.Result)];
                }
            }

            throw new TimeoutException("The batch did not finish in time.");
        }
        finally
        {
            TenantContext.Clear();
        }
    }
}
