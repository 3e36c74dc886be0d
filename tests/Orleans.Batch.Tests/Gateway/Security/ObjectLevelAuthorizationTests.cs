using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Orleans.Batch.Tests.Infrastructure;
using static Orleans.Batch.Tests.Infrastructure.BatchLifecycle;

namespace Orleans.Batch.Tests.Gateway.Security;

/// <summary>
/// OWASP API1 (broken object-level authorization): on every route that takes an id, a second tenant's writer and reader
/// asking for the first tenant's batch or resource get exactly what an id that does not exist gets, and change nothing.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ObjectLevelAuthorizationTests(ClusterFixture fixture)
{
    private readonly BatchApi _owner = new(fixture.Http);

    [Fact]
    public async Task EveryRouteWithAnId_OtherTenantsObject_AnswersAsAnUnknownId_AndChangesNothing()
    {
        var email = Unique.Email("owned");
        var user = await _owner.CreateUserAsync(email);
        var product = await _owner.CreateProductAsync();
        var order = await _owner.CreateOrderAsync(user, product);
        var finished = (await _owner.BatchAsync(CreateUser("a", Unique.Email("owned-batch")))).BatchId();
        var running = await StartSlowBatchAsync();

        var other = await fixture.CreateTenantAsync();
        var intruders = new[] { ("writer", await fixture.ClientForAsync(other, "writer")), ("reader", await fixture.ClientForAsync(other, "reader")) };
        // Ids no batch or row has, of the same shape as the owned ones.
        var unknownBatch = Unique.Token() + Unique.Token()[..8];
        const long UnknownRow = 9_000_000_000_000_000_000;

        var routes = new List<(HttpMethod Method, string Owned, string Unknown, object? Body)>();
        // Valid bodies, so that only the id decides the answer (the other tenant's own user and product for the order).
        var theirUser = await new BatchApi(intruders[0].Item2).CreateUserAsync();
        var theirProduct = await new BatchApi(intruders[0].Item2).CreateProductAsync();
        foreach (var (collection, id, body, patch) in new (string, long, object, object)[]
        {
            ("users", user, new { email = Unique.Email("intruder"), name = "Intruder" }, new { name = "Intruder" }),
            ("products", product, new { sku = Unique.Sku(), name = "Intruder", price = 1 }, new { name = "Intruder" }),
            ("orders", order, new { userId = theirUser, productId = theirProduct, quantity = 2, status = "paid" }, new { quantity = 5 }),
        })
        {
            routes.Add((HttpMethod.Get, $"/{collection}/{id}", $"/{collection}/{UnknownRow}", null));
            routes.Add((HttpMethod.Put, $"/{collection}/{id}", $"/{collection}/{UnknownRow}", body));
            routes.Add((HttpMethod.Patch, $"/{collection}/{id}", $"/{collection}/{UnknownRow}", patch));
            routes.Add((HttpMethod.Delete, $"/{collection}/{id}", $"/{collection}/{UnknownRow}", null));
        }

        foreach (var batch in new[] { finished, running })
        {
            foreach (var (method, suffix) in new[]
            {
                (HttpMethod.Get, "status"), (HttpMethod.Get, "status?wait=1"), (HttpMethod.Get, "results"), (HttpMethod.Get, "results?format=csv"),
                (HttpMethod.Get, "results?format=ndjson"), (HttpMethod.Get, "results?status=failed"), (HttpMethod.Post, "cancel"), (HttpMethod.Post, "retry"),
            })
            {
                routes.Add((method, $"/batch/{batch}/{suffix}", $"/batch/{unknownBatch}/{suffix}", null));
            }
        }

        var wrong = new List<string>();
        foreach (var (role, client) in intruders)
        {
            var api = new BatchApi(client);
            foreach (var (method, owned, unknown, body) in routes)
            {
                if (role == "reader" && method != HttpMethod.Get)
                {
                    var refused = await api.SendAsync(method, owned, body);
                    if (refused.Status != HttpStatusCode.Forbidden)
                    {
                        wrong.Add($"{role} {method} {owned}: {(int)refused.Status} instead of 403");
                    }

                    continue;
                }

                var expected = await api.SendAsync(method, unknown, body);
                var answer = await api.SendAsync(method, owned, body);
                if (answer.Status != HttpStatusCode.NotFound || expected.Status != HttpStatusCode.NotFound
                    || Comparable(answer, owned) != Comparable(expected, unknown))
                {
                    wrong.Add($"{role} {method} {owned}: {(int)answer.Status} {answer.Text}\n    unknown id: {(int)expected.Status} {expected.Text}");
                }
            }
        }

        Assert.True(wrong.Count == 0, string.Join("\n", wrong));

        // Nothing of the owner's changed: its rows as they were, its running batch not cancelled.
        var stillUser = ApiAssert.Json(await _owner.GetAsync($"/users/{user}"), HttpStatusCode.OK);
        Assert.Equal(email, stillUser.Str("email"));
        ApiAssert.Json(await _owner.GetAsync($"/products/{product}"), HttpStatusCode.OK);
        var stillOrder = ApiAssert.Json(await _owner.GetAsync($"/orders/{order}"), HttpStatusCode.OK);
        Assert.Equal(1, stillOrder.Int("quantity"));
        Assert.NotEqual("cancelled", (await _owner.StatusAsync(running)).Str("status"));
        Assert.Equal("completed", (await _owner.WaitUntilEndedAsync(running)).Str("status"));
    }

    [Fact]
    public async Task OtherTenant_ListsFiltersAndBatchItems_SeeNothingOfTheOwners()
    {
        var email = Unique.Email("listed");
        var sku = Unique.Sku();
        var user = await _owner.CreateUserAsync(email);
        var product = ApiAssert.Json(await _owner.PostAsync("/products", new { sku, name = "Listed", price = 3 }), HttpStatusCode.Created).GetProperty("id").GetInt64();
        var other = new BatchApi(await fixture.ClientForAsync(await fixture.CreateTenantAsync(), "writer"));

        Assert.Equal(0, ApiAssert.Json(await other.GetAsync($"/users?email={Uri.EscapeDataString(email)}"), HttpStatusCode.OK).GetProperty("items").GetArrayLength());
        Assert.Equal(0, ApiAssert.Json(await other.GetAsync($"/products?sku={sku}"), HttpStatusCode.OK).GetProperty("items").GetArrayLength());
        Assert.Equal(0, ApiAssert.Json(await other.GetAsync($"/orders?userId={user}"), HttpStatusCode.OK).GetProperty("items").GetArrayLength());
        Assert.DoesNotContain(ApiAssert.Json(await other.GetAsync($"/users?after={user - 1}&limit=1"), HttpStatusCode.OK).GetProperty("items").EnumerateArray(),
            item => item.GetProperty("id").GetInt64() == user);

        // The same ids as batch items: unknown to the other tenant, and its own email and sku do not conflict with the owner's.
        var batch = await other.PostAsync("/batch", new
        {
            operations = new object[]
            {
                new { id = "get", method = "GET", path = $"/users/{user}" },
                new { id = "patch", method = "PATCH", path = $"/products/{product}", body = new { price = 0 } },
                new { id = "order", method = "POST", path = "/orders", body = new { userId = user, productId = product, quantity = 1 } },
                new { id = "same-email", method = "POST", path = "/users", body = new { email, name = "Twin" } },
                new { id = "same-sku", method = "POST", path = "/products", body = new { sku, name = "Twin", price = 1 } },
            },
        });
        var results = batch.Json.GetProperty("results").EnumerateArray().ToDictionary(r => r.Str("id")!, r => r.Int("status"));
        Assert.Equal(404, results["get"]);
        Assert.Equal(404, results["patch"]);
        Assert.Equal(422, results["order"]);
        Assert.Equal(201, results["same-email"]);
        Assert.Equal(201, results["same-sku"]);
        Assert.Equal(3m, ApiAssert.Json(await _owner.GetAsync($"/products/{product}"), HttpStatusCode.OK).GetProperty("price").GetDecimal());
    }

    [Fact]
    public async Task SameIdempotencyKey_InTwoTenants_MakesTwoBatchesAndTwoImports()
    {
        var key = "shared-" + Unique.Token();
        var other = new BatchApi(await fixture.ClientForAsync(await fixture.CreateTenantAsync(), "writer"));
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = key };
        var body = new { operations = new[] { CreateUser("u", Unique.Email("keyed")) } };

        var mine = await _owner.SendAsync(HttpMethod.Post, "/batch", body, headers);
        var theirs = await other.SendAsync(HttpMethod.Post, "/batch", body, headers);
        Assert.Equal(HttpStatusCode.OK, mine.Status);
        Assert.Equal(HttpStatusCode.OK, theirs.Status);
        Assert.NotEqual(mine.BatchId(), theirs.BatchId());
        Assert.Equal(mine.BatchId(), (await _owner.SendAsync(HttpMethod.Post, "/batch", body, headers)).BatchId());

        var importKey = "import-" + Unique.Token();
        var csv = $"email,name\n{Unique.Email("import-keyed")},Keyed\n";
        var firstImport = await ImportAsync(fixture.Http, csv, importKey);
        var secondImport = await ImportAsync(await fixture.ClientForAsync(await fixture.CreateTenantAsync(), "writer"), csv, importKey);
        Assert.Equal(HttpStatusCode.Accepted, firstImport.Status);
        Assert.Equal(HttpStatusCode.Accepted, secondImport.Status);
        Assert.NotEqual(firstImport.BatchId(), secondImport.BatchId());
    }

    /// <summary>The answer with the id it names and its trace id (different on every request) taken out.</summary>
    private static string Comparable(ApiResponse response, string path) => Regex.Replace(
        Regex.Replace(response.Text, $@"\b{Regex.Escape(path.Split('/')[2].Split('?')[0])}\b", "ID"), "\"traceId\":\"[^\"]*\"", "");

    private static async Task<ApiResponse> ImportAsync(HttpClient http, string csv, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/batch/users/import") { Content = new StringContent(csv, Encoding.UTF8, "text/csv") };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await http.SendAsync(request);
        return await ApiResponse.ReadAsync(response);
    }

    /// <summary>An async batch that is still running while the other tenant tries it (a thousand creates at concurrency 1).</summary>
    private async Task<string> StartSlowBatchAsync()
    {
        var operations = Enumerable.Range(0, ClusterFixture.MaxOperations)
            .Select(i => new { id = $"u{i}", method = "PUT", path = $"/users/{9_000_000_000_000_000_000 + i}", body = new { email = Unique.Email("slow"), name = "Slow" } })
            .ToArray();
        var started = await _owner.PostAsync("/batch", new { mode = "async", concurrency = 1, operations });
        Assert.Equal(HttpStatusCode.Accepted, started.Status);
        return started.BatchId();
    }
}
