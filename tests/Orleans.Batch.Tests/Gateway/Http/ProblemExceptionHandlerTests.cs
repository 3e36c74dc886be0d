using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Gateway.Http;
using Orleans.Batch.Grains.Interfaces.Errors;
using Orleans.Runtime;
using Orleans.Serialization;

namespace Orleans.Batch.Tests.Gateway.Http;

/// <summary>Every exception that reaches the gateway's handler is answered as problem details with its documented status, and no exception's text.</summary>
public sealed class ProblemExceptionHandlerTests
{
    private const string Secret = "SELECT secret FROM connection_string_password";

    public static TheoryData<Exception, int, string> Cases => new()
    {
        { new CodecNotFoundException("Could not find a codec for type Orleans.Clustering.Redis.RedisClusteringException"), 503, "cluster-unavailable" },
        { new SiloUnavailableException(Secret), 503, "cluster-unavailable" },
        { new OrleansException("No gateways available " + Secret), 503, "cluster-unavailable" },
        { new TimeoutException(Secret), 503, "cluster-unavailable" },
        { new DatabaseUnavailableException(Secret), 503, "database-unavailable" },
        { new ServerFailureException("ref123"), 500, "server-error" },
        { new InvalidCastException(Secret), 500, "server-error" },
        { new NullReferenceException(Secret), 500, "server-error" },
        { new UnavailableExceptionFallbackException(), 500, "server-error" },
        { new TypeLoadException(Secret), 500, "server-error" },
        { new BadHttpRequestException(Secret, 413), 413, "body-too-large" },
        { new BadHttpRequestException("Unexpected end of request content.", 400), 400, "bad-request" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task TryHandle_AnyException_IsProblemDetailsWithItsStatus_AndNoExceptionText(Exception exception, int status, string type)
    {
        var handler = new ProblemExceptionHandler(Options.Create(new BatchApiOptions()), NullLogger<ProblemExceptionHandler>.Instance);
        var http = new DefaultHttpContext();
        http.Request.Headers.Accept = "text/html";
        http.Response.Body = new MemoryStream();

        Assert.True(await handler.TryHandleAsync(http, exception, CancellationToken.None));

        Assert.Equal(status, http.Response.StatusCode);
        Assert.Equal("application/problem+json", http.Response.ContentType?.Split(';')[0]);
        var body = System.Text.Encoding.UTF8.GetString(((MemoryStream)http.Response.Body).ToArray());
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal("urn:orleans-batch:problem:" + type, problem.GetProperty("type").GetString());
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.DoesNotContain(Secret, body, StringComparison.Ordinal);
        if (exception is ServerFailureException)
        {
            Assert.Equal("ref123", problem.GetProperty("reference").GetString());
        }
    }
}
