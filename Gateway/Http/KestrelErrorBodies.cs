using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Orleans.Batch.Gateway.Http;

/// <summary>
/// Kestrel refuses some requests before the app sees them (a request line it cannot parse, a path that decodes to NUL,
/// bytes HTTP forbids in a header, a bad Content-Length) and answers them with an empty 4xx; it offers no hook for that
/// body. This connection middleware recognises such an answer as Kestrel writes it and sends the same status as problem
/// details instead. The app's own answers never match: every error it writes has a body.
/// </summary>
internal static class KestrelErrorBodies
{
    private static readonly byte[] StatusLine = "HTTP/1.1 4"u8.ToArray();
    private static readonly byte[] EmptyBody = "\r\nContent-Length: 0\r\n"u8.ToArray();
    private static readonly byte[] Close = "\r\nConnection: close\r\n"u8.ToArray();
    private static readonly byte[] HeadersEnd = "\r\n\r\n"u8.ToArray();

    public static void Use(ListenOptions listen) => listen.Use(next => connection =>
    {
        connection.Transport = new Transport(connection.Transport.Input, new Writer(connection.Transport.Output));
        return next(connection);
    });

    /// <summary>The status of <paramref name="written"/> when it is exactly the header block of Kestrel's own empty 4xx; else null.</summary>
    internal static int? KestrelErrorStatus(ReadOnlySpan<byte> written)
    {
        if (!written.StartsWith(StatusLine) || !written.EndsWith(HeadersEnd) || written.Length < StatusLine.Length + 2
            || written.IndexOf(EmptyBody) < 0 || written.IndexOf(Close) < 0
            || written[..^HeadersEnd.Length].IndexOf(HeadersEnd) >= 0)
        {
            return null;
        }

        var digits = written.Slice(StatusLine.Length - 1, 3);
        return digits.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0 ? int.Parse(Encoding.ASCII.GetString(digits)) : null;
    }

    /// <summary>The whole answer that replaces Kestrel's: the same status, as problem details, closing the connection as Kestrel would.</summary>
    internal static byte[] ProblemResponse(int status)
    {
        var problem = ApiProblems.ForStatus(status, "", "");
        problem.Detail = "The request could not be read as HTTP (its request line, a header or its length is malformed); nothing was done.";
        var body = JsonSerializer.SerializeToUtf8Bytes(problem, JsonSerializerOptions.Web);
        var head = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status} {problem.Title}\r\nContent-Type: application/problem+json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        return [.. head, .. body];
    }

    private sealed record Transport(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    /// <summary>Passes everything on, looking at each block as it is committed; memory is the inner writer's own, so nothing is copied.</summary>
    private sealed class Writer(PipeWriter inner) : PipeWriter
    {
        private Memory<byte> _lent;

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override Memory<byte> GetMemory(int sizeHint = 0) => _lent = inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => (_lent = inner.GetMemory(sizeHint)).Span;

        public override void Advance(int bytes)
        {
            if (bytes <= _lent.Length && KestrelErrorStatus(_lent.Span[..bytes]) is { } status)
            {
                // Not committed yet: the problem response is written over it.
                inner.Write(ProblemResponse(status));
                return;
            }

            inner.Advance(bytes);
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }
}
