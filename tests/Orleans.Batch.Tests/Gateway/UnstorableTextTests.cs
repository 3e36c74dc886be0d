using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>
/// Text PostgreSQL cannot store (NUL, a lone surrogate, bytes that are not UTF-8) anywhere in a request: a 400 naming
/// the field, before anything is claimed or stored. JSON here writes such text as escapes (<c>\u0000</c>, <c>\ud800</c>).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class UnstorableTextTests(ClusterFixture fixture)
{
    private readonly BatchApi _api = new(fixture.Http);

    [Theory]
    [InlineData("""{"id":"a\u0000","method":"GET","path":"/users/1"}""", "operations[0].id")]
    [InlineData("""{"id":"a\ud800","method":"GET","path":"/users/1"}""", "operations[0].id")]
    [InlineData("""{"id":"a","method":"G\u0000T","path":"/users/1"}""", "operations[0].method")]
    [InlineData("""{"id":"a","method":"GET","path":"/users/1\u0000"}""", "operations[0].path")]
    [InlineData("""{"id":"a","method":"GET","path":"/users?email=\udc00"}""", "operations[0].path")]
    [InlineData("""{"id":"a","method":"GET","path":"/users/1","headers":{"x-a":"v\u0000"}}""", "operations[0].headers.x-a")]
    [InlineData("""{"id":"a","method":"GET","path":"/users/1","headers":{"x-a":"\ud800"}}""", "operations[0].headers.x-a")]
    [InlineData("""{"id":"a","method":"GET","path":"/users/1","headers":{"x-\u0000":"v"}}""", "operations[0].headers.x-\\u0000")]
    [InlineData("""{"id":"a","method":"POST","path":"/users","idempotencyKey":"k\u0000"}""", "operations[0].idempotencyKey")]
    [InlineData("""{"id":"a","method":"POST","path":"/users","body":{"email":"a@b.co","name":"n\u0000"}}""", "operations[0].body.name")]
    [InlineData("""{"id":"a","method":"POST","path":"/users","body":{"email":"a@b.co","name":"x","tags":[1,{"n":"\ud800"}]}}""", "operations[0].body.tags[1].n")]
    [InlineData("""{"id":"a","method":"POST","path":"/users","body":{"email":"a@b.co","na\u0000me":"x"}}""", "operations[0].body.na\\u0000me")]
    public async Task Submit_UnstorableText_Returns400NamingTheField(string operation, string field)
    {
        var response = await _api.SendAsync(HttpMethod.Post, "/batch", $$"""{"operations":[{"id":"ok","method":"GET","path":"/users/1"},{{operation}}]}""".Replace("operations[0]", "operations[1]"));

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", field.Replace("operations[0]", "operations[1]"));
    }

    [Fact]
    public async Task Submit_InvalidUtf8Bytes_Returns400MalformedJson()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"operations":[{"id":"aXXX","method":"GET","path":"/users/1"}]}""");
        var at = Array.IndexOf(bytes, (byte)'X');
        (bytes[at], bytes[at + 1], bytes[at + 2]) = (0xED, 0xA0, 0x80);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/batch") { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        var problem = ApiAssert.Problem(await _api.SendAsync(request), HttpStatusCode.BadRequest, "malformed-json");

        Assert.Contains($"byte {at + 1}", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Submit_RefusedForItsText_DoesNotUseUpItsIdempotencyKey()
    {
        var key = $"text-{Unique.Token()}";
        var email = Unique.Email("text");
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = key };
        var refused = await _api.SendAsync(HttpMethod.Post, "/batch",
            $$$"""{"operations":[{"id":"a\u0000","method":"POST","path":"/users","body":{"email":"{{{email}}}","name":"N"}}]}""", headers);
        ApiAssert.Problem(refused, HttpStatusCode.BadRequest, "validation", "operations[0].id");

        var corrected = await _api.SendAsync(HttpMethod.Post, "/batch",
            $$$"""{"operations":[{"id":"a","method":"POST","path":"/users","body":{"email":"{{{email}}}","name":"N"}}]}""", headers);

        Assert.Equal(201, ApiAssert.Json(corrected, HttpStatusCode.OK).GetProperty("results")[0].GetProperty("status").GetInt32());
        Assert.Equal(1, await fixture.Database.CountUsersAsync([email]));
    }

    [Fact]
    public async Task Resource_RefusedForItsText_DoesNotUseUpItsIdempotencyKey()
    {
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = $"text-{Unique.Token()}" };
        var email = Unique.Email("text");
        ApiAssert.Problem(await _api.SendAsync(HttpMethod.Post, "/users", $$"""{"email":"{{email}}","name":"N\u0000"}""", headers),
            HttpStatusCode.BadRequest, "validation", "name");

        var corrected = await _api.SendAsync(HttpMethod.Post, "/users", $$"""{"email":"{{email}}","name":"N"}""", headers);

        ApiAssert.Json(corrected, HttpStatusCode.Created);
    }

    [Theory]
    [InlineData("/users?email=%00", "email")]
    [InlineData("/users?e%00=1", "e\\u0000")]
    [InlineData("/users/%ED%A0%80", null)]
    public async Task Resource_UnstorableQuery_Returns400NamingIt(string path, string? field)
    {
        var response = await _api.GetAsync(path);

        if (field is null)
        {
            // Bytes that are not UTF-8 stay percent-encoded in the path, which then names no resource.
            ApiAssert.Problem(response, HttpStatusCode.NotFound, "not-found");
        }
        else
        {
            ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", field);
        }
    }

    [Theory]
    [InlineData("""{"email":"a@b.co","name":"x","tags":["\ud800"]}""", "tags[0]")]
    [InlineData("""{"email":"a@b.co","n\u0000":"x"}""", "n\\u0000")]
    public async Task Resource_UnstorableBodyText_Returns400NamingTheField(string body, string field) =>
        ApiAssert.Problem(await _api.SendAsync(HttpMethod.Post, "/users", body), HttpStatusCode.BadRequest, "validation", field);

    [Fact]
    public async Task Resource_InvalidUtf8Body_Returns400MalformedJson()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/users") { Content = new ByteArrayContent([.. "{\"email\":\"a@b.co\",\"name\":\"\u00ff"u8, 0xFF, .. "\"}"u8]) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        ApiAssert.Problem(await _api.SendAsync(request), HttpStatusCode.BadRequest, "malformed-json");
    }

    [Fact]
    public async Task Users_EmailStartingWithAByteOrderMark_IsInvalid()
    {
        var response = await _api.PostAsync("/users", new { email = "\ufeff" + Unique.Email("bom"), name = "Bom" });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "email");
    }
}
