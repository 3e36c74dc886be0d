using System.Text;
using Orleans.Batch.Gateway.Http;

namespace Orleans.Batch.Tests.Gateway.Http;

public sealed class KestrelErrorBodiesTests
{
    [Theory]
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\nDate: Mon, 07 Dec 2026 22:00:00 GMT\r\nServer: Kestrel\r\n\r\n", 400)]
    [InlineData("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 431)]
    public void KestrelErrorStatus_OfKestrelsEmptyError_IsItsStatus(string written, int status) =>
        Assert.Equal(status, KestrelErrorBodies.KestrelErrorStatus(Encoding.ASCII.GetBytes(written)));

    [Theory]
    // The app's own answers: with a body, not an error, kept alive, or more than one header block.
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\nContent-Length: 52\r\nConnection: close\r\n\r\n")]
    [InlineData("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")]
    [InlineData("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")]
    [InlineData("")]
    public void KestrelErrorStatus_OfAnythingElse_IsNull(string written) =>
        Assert.Null(KestrelErrorBodies.KestrelErrorStatus(Encoding.ASCII.GetBytes(written)));

    [Fact]
    public void ProblemResponse_IsAWholeProblemAnswerThatCloses()
    {
        var text = Encoding.UTF8.GetString(KestrelErrorBodies.ProblemResponse(400));
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var (head, body) = (text[..split], text[(split + 4)..]);

        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", head, StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Type: application/problem+json", head, StringComparison.Ordinal);
        Assert.Contains($"\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}", head, StringComparison.Ordinal);
        Assert.Contains("\r\nConnection: close", head, StringComparison.Ordinal);
        using var problem = System.Text.Json.JsonDocument.Parse(body);
        Assert.Equal(400, problem.RootElement.GetProperty("status").GetInt32());
    }
}
