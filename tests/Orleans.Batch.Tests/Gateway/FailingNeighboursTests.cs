using System.Net;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;
using static Orleans.Batch.Tests.Infrastructure.BatchLifecycle;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>
/// One client's failing requests never fail another's valid one: statements that fail inside PostgreSQL (unique and
/// foreign-key violations, a chunk whose set statement fails and runs item by item) and requests refused before any
/// statement (NUL text, through the gateway and straight to the grains), interleaved from several clients with valid
/// batches, on the connection pools every request shares.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class FailingNeighboursTests(ClusterFixture fixture)
{
    private const int Clients = 6;
    private const int RoundsPerClient = 25;

    private readonly BatchApi _api = new(fixture.Http);

    [Fact]
    public async Task FailingRequests_InterleavedWithValidBatches_FromSeveralClients_EveryValidOneSucceeds()
    {
        var taken = Unique.Email("taken");
        await _api.CreateUserAsync(taken);
        var referenced = await _api.CreateUserAsync();
        await _api.CreateOrderAsync(referenced, await _api.CreateProductAsync());
        var failures = new List<string>();

        await Task.WhenAll(Enumerable.Range(0, Clients).Select(client => Task.Run(async () =>
        {
            for (var round = 0; round < RoundsPerClient; round++)
            {
                var failing = await FailAsync((client + round) % 7, taken, referenced);
                var valid = await ValidAsync();
                lock (failures)
                {
                    failures.AddRange(new[] { failing, valid }.OfType<string>().Select(f => $"client {client}, round {round}: {f}"));
                }
            }
        })));

        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }

    /// <summary>Sends one failing request of the given kind; what went other than expected, or null.</summary>
    private async Task<string?> FailAsync(int kind, string taken, long referenced)
    {
        switch (kind)
        {
            case 0:
                return Expect(await _api.SendAsync(HttpMethod.Post, "/batch", """{"operations":[{"id":"a\u0000","method":"GET","path":"/users/1"}]}"""),
                    HttpStatusCode.BadRequest);
            case 1:
                // Straight to the grain, past the gateway's check: refused before any statement.
                var batch = fixture.Grains.GetGrain<IBatchGrain>($"nul-{Unique.Token()}");
                var refused = await Record.ExceptionAsync(() => batch.StartAsync(new BatchRequest(
                    [new OperationRequest("a\0b", "POST", "/users", $$"""{"email":"{{Unique.Email("nul")}}","name":"N"}""", null, null)], null)));
                return refused is ArgumentException ? null : $"a NUL id sent to the grain threw {refused?.GetType().Name ?? "nothing"}";
            case 2:
                return Expect(await _api.PostAsync("/users", new { email = taken, name = "Again" }), HttpStatusCode.Conflict);
            case 3:
                return Expect(await _api.PostAsync("/orders", new { userId = long.MaxValue - 7, productId = 1, quantity = 1 }), (HttpStatusCode)422);
            case 4:
                // Three creates of one email: the chunk's set statement fails, and its items run one by one.
                var email = Unique.Email("dup");
                var chunk = await _api.BatchAsync(CreateUser("x", email), CreateUser("y", email), CreateUser("z", email));
                return chunk.Status == HttpStatusCode.MultiStatus ? null : $"a chunk with a duplicate answered {(int)chunk.Status}: {chunk.Text}";
            case 5:
                TenantContext.Set(TenantContext.Default);
                var keyed = await fixture.Grains.GetGrain<IOperationGrain>(0).ExecuteAsync(
                    new OperationRequest("k", "POST", "/users", $$"""{"email":"{{Unique.Email("key")}}","name":"N"}""", null, null, "key\0"));
                return keyed.Status == 400 ? null : $"a NUL key sent to the grain answered {keyed.Status}: {keyed.Body}";
            default:
                return Expect(await _api.DeleteAsync($"/users/{referenced}"), HttpStatusCode.Conflict);
        }
    }

    private async Task<string?> ValidAsync()
    {
        var email = Unique.Email("valid");
        var response = await _api.BatchAsync(CreateUser("create", email), new { id = "list", method = "GET", path = $"/users?email={email}" });
        return response.Status == HttpStatusCode.OK ? null : $"a valid batch answered {(int)response.Status}: {response.Text}";
    }

    private static string? Expect(ApiResponse response, HttpStatusCode status) =>
        response.Status == status && response.ContentType == "application/problem+json"
            ? null
            : $"expected {(int)status}, got {(int)response.Status} {response.ContentType}: {response.Text}";
}
