using System.Net.Sockets;
using System.Text;

namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>
/// HTTP/1.1 over a bare socket, one request per connection (kept open until its answer is read): sends bytes no HttpClient would (bad bytes in the request
/// line or a header, a body shorter than its length) and reads the answer to the end.
/// </summary>
public static class RawHttp
{
    public sealed record Response(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
    {
        public string? ContentType => Headers.TryGetValue("content-type", out var type) ? type.Split(';')[0].Trim() : null;

        public string Text => Encoding.UTF8.GetString(Body);
    }

    /// <summary>A request of <paramref name="method"/> <paramref name="target"/> (bytes as they are) with the given header lines and body.</summary>
    public static byte[] Request(string method, byte[] target, IEnumerable<string> headerLines, byte[]? body, bool declareLength = true)
    {
        var head = new StringBuilder();
        head.Append(" HTTP/1.1\r\nHost: localhost\r\n");
        foreach (var line in headerLines)
        {
            head.Append(line).Append("\r\n");
        }

        if (body is not null && declareLength)
        {
            head.Append("Content-Length: ").Append(body.Length).Append("\r\n");
        }

        head.Append("\r\n");
        return [.. Encoding.ASCII.GetBytes(method + " "), .. target, .. Encoding.Latin1.GetBytes(head.ToString()), .. body ?? []];
    }

    /// <summary>
    /// Sends <paramref name="request"/> (or its first <paramref name="truncateAt"/> bytes, then closes the sending side) and
    /// reads one answer; null when the server closed without answering; throws on a timeout.
    /// </summary>
    public static async Task<Response?> SendAsync(Uri server, byte[] request, TimeSpan timeout, int truncateAt = -1)
    {
        using var cancel = new CancellationTokenSource(timeout);
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, cancel.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(truncateAt >= 0 ? request.AsMemory(0, truncateAt) : request, cancel.Token);
        if (truncateAt >= 0)
        {
            // Kestrel takes the end of the input as the client gone: the request is cut short there.
            client.Client.Shutdown(SocketShutdown.Send);
        }

        // The connection stays open until the answer is complete: a server that closes it with part of the request unread
        // resets it, and a reset can take the end of the answer with it.
        using var answer = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            int read;
            try
            {
                read = await stream.ReadAsync(buffer, cancel.Token);
            }
            catch (IOException) when (truncateAt >= 0)
            {
                read = 0;
            }

            if (read == 0)
            {
                return answer.Length == 0 ? null : TryParse(answer.ToArray(), closed: true)
                    ?? throw new InvalidDataException($"An incomplete answer ({answer.Length} bytes): {Encoding.Latin1.GetString(answer.ToArray())}");
            }

            answer.Write(buffer, 0, read);
            if (TryParse(answer.ToArray(), closed: false) is { } response)
            {
                return response;
            }
        }
    }

    /// <summary>The answer in <paramref name="raw"/>, or null while it is incomplete (a body runs to the close only without a length).</summary>
    private static Response? TryParse(byte[] raw, bool closed)
    {
        var end = raw.AsSpan().IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return null;
        }

        var lines = Encoding.Latin1.GetString(raw, 0, end).Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        var body = raw.AsSpan(end + 4).ToArray();
        if (headers.TryGetValue("transfer-encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            return Unchunk(body) is { } whole ? new Response(status, headers, whole) : null;
        }

        if (headers.TryGetValue("content-length", out var length))
        {
            var size = int.Parse(length, System.Globalization.CultureInfo.InvariantCulture);
            return body.Length >= size ? new Response(status, headers, body[..size]) : null;
        }

        return closed || status is 204 or 304 || status < 200 ? new Response(status, headers, body) : null;
    }

    /// <summary>The body of a chunked answer, or null while its last chunk has not arrived.</summary>
    private static byte[]? Unchunk(byte[] chunked)
    {
        using var body = new MemoryStream();
        var at = 0;
        while (true)
        {
            var lineEnd = chunked.AsSpan(at).IndexOf("\r\n"u8);
            if (lineEnd < 0)
            {
                return null;
            }

            var size = Convert.ToInt32(Encoding.ASCII.GetString(chunked, at, lineEnd).Split(';')[0], 16);
            at += lineEnd + 2;
            if (size == 0)
            {
                return body.ToArray();
            }

            if (at + size + 2 > chunked.Length)
            {
                return null;
            }

            body.Write(chunked, at, size);
            at += size + 2;
        }
    }
}
