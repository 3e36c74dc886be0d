using System.Net;
using Dapper;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>Many PUT and PATCH items of one collection through <c>POST /batch</c>, run as set-based chunks.</summary>
[Collection(ClusterCollection.Name)]
public sealed class BatchUpdatesTests(ClusterFixture fixture)
{
    private const int Count = 300;

    private readonly BatchApi _api = new(fixture.Http);

    [Fact]
    public async Task Submit_ManyPatches_AnswerEachItemAndUpdateEveryRowInSets()
    {
        var holder = Unique.Email("holder");
        await _api.CreateUserAsync(holder);
        var ids = await CreateUsersAsync();
        var putEmail = Unique.Email("put");
        var operations = ids.Select((id, i) => (object)(i switch
        {
            50 => new { id = $"p{i}", method = "PUT", path = $"/users/{id}", body = (object)new { email = putEmail, name = "Put 50" } },
            100 => new { id = $"p{i}", method = "PATCH", path = "/users/987654321987", body = (object)new { name = "Nobody" } },
            200 => new { id = $"p{i}", method = "PATCH", path = $"/users/{id}", body = (object)new { email = holder.ToUpperInvariant() } },
            250 => new { id = $"p{i}", method = "PATCH", path = $"/users/{id}", body = (object)new { email = "not-an-email" } },
            _ => new { id = $"p{i}", method = "PATCH", path = $"/users/{id}", body = (object)new { name = $"Patched {i}" } },
        })).ToArray();

        var response = await _api.PostAsync("/batch", new { mode = "sync", operations });

        Assert.Equal(HttpStatusCode.MultiStatus, response.Status);
        var results = response.Json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(
            ids.Select((_, i) => i switch { 100 => 404, 200 => 409, 250 => 400, _ => 200 }),
            results.Select(r => r.GetProperty("status").GetInt32()));
        Assert.Equal("Patched 7", results[7].GetProperty("result").GetProperty("name").GetString());
        Assert.Equal(ids[7], results[7].GetProperty("result").GetProperty("id").GetInt64());
        Assert.Equal(putEmail, results[50].GetProperty("result").GetProperty("email").GetString());

        await using var connection = await fixture.Database.OpenConnectionAsync();
        var rows = (await connection.QueryAsync<(long Id, string Name, string Xmin)>(
            "SELECT id, name, xmin::text FROM users WHERE id = ANY(@ids)", new { ids })).ToDictionary(r => r.Id);
        for (var i = 0; i < Count; i++)
        {
            var expected = i switch { 50 => "Put 50", 100 or 200 or 250 => "Batch User", _ => $"Patched {i}" };
            Assert.Equal(expected, rows[ids[i]].Name);
        }

        // Each set-based chunk writes its rows in one transaction; one by one, each row would have its own writer.
        var writers = rows.Values.Where(r => r.Name != "Batch User").Select(r => r.Xmin).Distinct().Count();
        Assert.True(writers <= Count / 10, $"{writers} transactions wrote {Count - 3} rows; the patches did not run in chunks.");
    }

    private async Task<List<long>> CreateUsersAsync()
    {
        var token = Unique.Token();
        var creates = Enumerable.Range(0, Count)
            .Select(i => (object)new { id = $"c{i}", method = "POST", path = "/users", body = new { email = $"patch{i}-{token}@example.com", name = "Batch User" } })
            .ToArray();
        var created = await _api.PostAsync("/batch", new { mode = "sync", operations = creates });
        Assert.Equal(HttpStatusCode.OK, created.Status);
        return [.. created.Json.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("result").GetProperty("id").GetInt64())];
    }
}
