using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Orleans.Batch.Testing;

/// <summary>
/// A client as the README tells one to be under faults: an import is sent with an <c>Idempotency-Key</c> and sent
/// again, the same file with the same key, after any failure (5xx, 409, connection error, timeout) until it is
/// answered 202; status calls are retried through failures. Every wait is bounded. Shared by the process tests and
/// the chaos run (linked source), so it uses no test framework.
/// </summary>
public sealed class RetryingClient(HttpClient http, Action<string>? log = null)
{
    private int _serverErrors;
    private int _failedCalls;

    /// <summary>5xx answers seen so far.</summary>
    public int ServerErrors => _serverErrors;

    /// <summary>Calls that got no answer (connection refused or reset, timeout).</summary>
    public int FailedCalls => _failedCalls;

    /// <summary>
    /// POSTs <paramref name="csv"/> to <c>/batch/users/import</c> under <paramref name="key"/> until it is answered 202 or
    /// <paramref name="timeout"/> has passed; any other 4xx ends it at once.
    /// </summary>
    public async Task<SubmitResult> ImportAsync(byte[] csv, string key, TimeSpan timeout, string query = "", CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var attempts = 0;
        var last = "not sent";
        while (clock.Elapsed < timeout)
        {
            attempts++;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/batch/users/import{query}", UriKind.Relative))
                {
                    Content = new ByteArrayContent(csv),
                };
                request.Content.Headers.ContentType = new("text/csv");
                request.Headers.Add("Idempotency-Key", key);
                using var response = await http.SendAsync(request, cancellationToken);
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                var code = (int)response.StatusCode;
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    var batchId = JsonDocument.Parse(text).RootElement.GetProperty("batchId").GetString()!;
                    return new SubmitResult(batchId, attempts, clock.Elapsed, null);
                }

                last = $"{code} {Shorten(text)}";
                if (code >= 500)
                {
                    Interlocked.Increment(ref _serverErrors);
                }
                else if (response.StatusCode != HttpStatusCode.Conflict)
                {
                    return new SubmitResult(null, attempts, clock.Elapsed, last);
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _failedCalls);
                last = e.Message;
            }

            log?.Invoke($"import {key}: attempt {attempts} failed ({last}); sending it again");
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempts, 5)), cancellationToken);
        }

        return new SubmitResult(null, attempts, clock.Elapsed, $"no 202 within {timeout.TotalSeconds} s; last: {last}");
    }

    /// <summary>
    /// Asks <c>/batch/{id}/status?wait=</c> until the batch has ended or <paramref name="timeout"/> has passed; returns its
    /// last status and whether it ended.
    /// </summary>
    public async Task<(JsonElement? Status, bool Ended, string Last)> WaitEndAsync(string batchId, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        JsonElement? status = null;
        var last = "no answer";
        while (clock.Elapsed < timeout)
        {
            var wait = (int)Math.Clamp((timeout - clock.Elapsed).TotalSeconds, 1, 20);
            try
            {
                using var response = await http.GetAsync(
                    new Uri($"/batch/{batchId}/status?wait={wait.ToString(CultureInfo.InvariantCulture)}", UriKind.Relative), cancellationToken);
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    status = JsonDocument.Parse(text).RootElement.Clone();
                    last = text;
                    if (status.Value.GetProperty("status").GetString() is not ("pending" or "processing"))
                    {
                        return (status, true, last);
                    }

                    continue;
                }

                last = $"{(int)response.StatusCode} {Shorten(text)}";
                if ((int)response.StatusCode >= 500)
                {
                    Interlocked.Increment(ref _serverErrors);
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _failedCalls);
                last = e.Message;
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }

        return (status, false, last);
    }

    private static string Shorten(string text) => text.Length <= 160 ? text : text[..160] + "…";
}

/// <summary>What became of one import: its batch id once answered 202, else why not.</summary>
public sealed record SubmitResult(string? BatchId, int Attempts, TimeSpan Took, string? Error);
