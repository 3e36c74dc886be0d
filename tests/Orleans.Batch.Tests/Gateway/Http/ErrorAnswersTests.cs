using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Gateway.Http;

/// <summary>Errors the routes never see (an unrouted path, a wrong method, a request past the web server's limits) are problem details too, whatever the client accepts.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ErrorAnswersTests(ClusterFixture fixture)
{
    private readonly BatchApi _api = new(fixture.Http);

    [Theory]
    [InlineData(null)]
    [InlineData("text/html")]
    [InlineData("*/*")]
    [InlineData("application/json")]
    [InlineData("image/png")]
    public async Task UnroutedPath_Returns404Problem_WhateverTheAcceptHeader(string? accept)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/no/such/route");
        if (accept is not null)
        {
            request.Headers.Accept.ParseAdd(accept);
        }

        ApiAssert.Problem(await _api.SendAsync(request), HttpStatusCode.NotFound, "not-found");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("text/html")]
    public async Task WrongMethod_Returns405Problem_WithAllow(string? accept)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, "/health");
        if (accept is not null)
        {
            request.Headers.Accept.ParseAdd(accept);
        }

        var response = await _api.SendAsync(request);

        ApiAssert.Problem(response, HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal("GET", response.Allow);
    }

    [Fact]
    public async Task OverlongTarget_Returns414Problem_NamingTheLimit()
    {
        var problem = ApiAssert.Problem(await _api.GetAsync("/users?email=" + new string('a', 9000)), HttpStatusCode.RequestUriTooLong, "uri-too-long");

        Assert.Equal(8192, problem.GetProperty("limit").GetInt32());
    }

    [Fact]
    public async Task OversizedHeader_Returns431Problem()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
        request.Headers.Add("X-Big", new string('h', 40_000));

        ApiAssert.Problem(await _api.SendAsync(request), HttpStatusCode.RequestHeaderFieldsTooLarge, "headers-too-large");
    }

    [Fact]
    public async Task TooManyHeaders_Returns431Problem()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
        for (var i = 0; i < 120; i++)
        {
            request.Headers.Add($"X-H{i}", "v");
        }

        ApiAssert.Problem(await _api.SendAsync(request), HttpStatusCode.RequestHeaderFieldsTooLarge, "headers-too-large");
    }

    [Theory]
    [InlineData("--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nemail,name\r\na@b.co,x\r\n")]
    [InlineData("--XX\r\n\r\nemail,name\r\na@b.co,x\r\n")]
    [InlineData("--XX\r\nNoColonHere\r\n\r\nemail,name\r\n--XX--\r\n")]
    public async Task Import_MalformedMultipart_Returns400Problem(string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/batch/users/import") { Content = new ByteArrayContent(Encoding.ASCII.GetBytes(body)) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=XX");

        var response = await _api.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal("application/problem+json", response.ContentType);
        Assert.Contains(response.Json.GetProperty("type").GetString(), new[] { "urn:orleans-batch:problem:malformed-multipart", "urn:orleans-batch:problem:invalid-csv" });
    }

    [Fact]
    public async Task BodyCutShort_Returns400Problem()
    {
        var body = "{\"operations\":[{\"id\":\"a\",\"method\":\"GET\",\"path\":\"/users/1\"}]}"u8.ToArray();
        var request = RawHttp.Request("POST", "/batch"u8.ToArray(), ["Content-Type: application/json", fixture.AuthorizationLine], body);

        var response = await RawHttp.SendAsync(fixture.Http.BaseAddress!, request, TimeSpan.FromSeconds(20), request.Length - 10);

        // The client closed its side: the server answers a problem, or nothing to a client that is gone.
        if (response is not null)
        {
            Assert.Equal(400, response.Status);
            Assert.Equal("application/problem+json", response.ContentType);
        }
    }

    /// <summary>Requests Kestrel refuses before the app runs: KestrelErrorBodies answers them as problem details too.</summary>
    [Theory]
    [InlineData("GET /users/%00 HTTP/1.1\r\nHost: x\r\n\r\n")]
    [InlineData("GET /batch/%00/status HTTP/1.1\r\nHost: x\r\n\r\n")]
    [InlineData("GET /health HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n")]
    [InlineData("GET /health HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n")]
    [InlineData("POST /batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}")]
    [InlineData("BAD\r\n\r\n")]
    public async Task RequestKestrelRefusesItself_Returns400Problem(string raw)
    {
        var response = await RawHttp.SendAsync(fixture.Http.BaseAddress!, Encoding.ASCII.GetBytes(raw), TimeSpan.FromSeconds(20));

        Assert.NotNull(response);
        Assert.Equal(400, response.Status);
        Assert.Equal("application/problem+json", response.ContentType);
        using var problem = System.Text.Json.JsonDocument.Parse(response.Body);
        Assert.Equal(400, problem.RootElement.GetProperty("status").GetInt32());
        Assert.StartsWith(ApiAssert.ProblemTypePrefix, problem.RootElement.GetProperty("type").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await _api.GetAsync("/health")).Status);
    }
}
