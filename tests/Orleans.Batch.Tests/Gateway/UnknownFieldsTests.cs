using System.Net;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>A field a resource does not have is a 400 naming it, on the single request and as a batch item alike; nothing is written.</summary>
[Collection(ClusterCollection.Name)]
public sealed class UnknownFieldsTests(ClusterFixture fixture)
{
    private readonly BatchApi _api = new(fixture.Http);

    [Theory]
    [InlineData("/users", """{"email":"EMAIL","name":"N","nmae":"typo"}""", "nmae")]
    [InlineData("/users", """{"email":"EMAIL","name":"N","id":5}""", "id")]
    [InlineData("/products", """{"sku":"EMAIL","name":"N","price":1,"pirce":2}""", "pirce")]
    [InlineData("/orders", """{"userId":1,"productId":1,"quantity":1,"qty":2}""", "qty")]
    public async Task Create_UnknownField_Returns400NamingIt_AndCreatesNothing(string path, string body, string field)
    {
        var email = Unique.Email("unknown");
        var single = await _api.SendAsync(HttpMethod.Post, path, body.Replace("EMAIL", email, StringComparison.Ordinal));
        var item = await _api.BatchAsync(new { id = "x", method = "POST", path, body = System.Text.Json.JsonDocument.Parse(body.Replace("EMAIL", email, StringComparison.Ordinal)).RootElement });

        ApiAssert.Problem(single, HttpStatusCode.BadRequest, "validation", field);
        var result = ApiAssert.Json(item, HttpStatusCode.MultiStatus).GetProperty("results")[0];
        Assert.Equal(400, result.GetProperty("status").GetInt32());
        Assert.True(result.GetProperty("error").GetProperty("errors").TryGetProperty(field, out _));
        Assert.Equal(0, await fixture.Database.CountUsersAsync([email]));
    }

    [Fact]
    public async Task Patch_UnknownField_Returns400NamingIt()
    {
        var id = await _api.CreateUserAsync();

        ApiAssert.Problem(await _api.PatchAsync($"/users/{id}", new { nmae = "typo" }), HttpStatusCode.BadRequest, "validation", "nmae");
    }
}
