using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Orleans.Batch.Gateway.Batches;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Gateway.Http;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Text;

namespace Orleans.Batch.Gateway.Endpoints;

public static class BatchEndpoints
{
    public static IEndpointRouteBuilder MapBatchEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/batch").WithTags("Batches");
        group.MapPost("/", SubmitAsync);
        group.MapGet("/{batchId}/status", GetStatusAsync);
        group.MapGet("/{batchId}/results", GetResultsAsync);
        group.MapPost("/{batchId}/cancel", CancelAsync);
        group.MapPost("/{batchId}/retry", RetryAsync);
        return app;
    }

    internal static async Task<Results<BatchCompletedResult, Accepted<BatchAcceptedResponse>, ProblemHttpResult>> SubmitAsync(
        HttpRequest request, IClusterClient cluster, GrainRetry retry, IOptions<BatchApiOptions> options, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        if (!IsJson(request.ContentType))
        {
            return TypedResults.Problem(ApiProblems.UnsupportedMediaType(request.ContentType, "application/json"));
        }

        if (request.ContentLength > limits.MaxRequestBytes)
        {
            return TypedResults.Problem(ApiProblems.BodyTooLarge(limits.MaxRequestBytes));
        }

        if (Submissions.ReadKey(request, limits) is { Problem: { } keyProblem })
        {
            return TypedResults.Problem(keyProblem);
        }

        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, cancellationToken);
        // JsonDocument reads strings' bytes only when asked for them: bytes that are not UTF-8 are refused here, whole.
        if (StorableText.InvalidUtf8At(body.GetBuffer().AsSpan(0, (int)body.Length)) is var bad and >= 0)
        {
            return TypedResults.Problem(ApiProblems.MalformedJson(
                $"The body is not valid UTF-8 (byte {bad + 1} starts an invalid sequence). Nothing was executed."));
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.GetBuffer().AsMemory(0, (int)body.Length));
        }
        catch (JsonException e)
        {
            return TypedResults.Problem(ApiProblems.MalformedJson(
                $"The body is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}). Nothing was executed."));
        }

        var batchId = Submissions.NewBatchId();
        BatchRequest? batch;
        using (document)
        {
            if (BatchEnvelope.TryRead(document.RootElement, limits, batchId, out batch) is { } problem)
            {
                return TypedResults.Problem(problem);
            }
        }

        // A batch answered before it ends is async, whatever the client asked: the grain counts it against the tenant's quota.
        var submitted = batch!.Mode == BatchMode.Auto && batch.Operations.Count > limits.SyncThreshold ? batch with { Mode = BatchMode.Async } : batch!;
        var claim = await Submissions.ClaimAsync(cluster, retry, request, limits, batchId, SHA256.HashData(body.GetBuffer().AsSpan(0, (int)body.Length)));
        if (claim is { SameRequest: false })
        {
            return TypedResults.Problem(ApiProblems.SubmissionKeyReused());
        }

        batchId = claim?.BatchId ?? batchId;
        var grain = cluster.GetGrain<IBatchGrain>(batchId);
        // Under a key claimed earlier, the batch already exists and this request runs nothing, or completes what a failed
        // first request began; items are read back from the store with their batch's own id, so the provisional id they
        // carry here does not matter. Starting a batch under its id twice starts it once, so the call is re-sent while a silo dies.
        // No per-attempt limit: a start stores every operation first, which for a large batch takes longer than a quick call.
        var progress = await retry.RunAsync(() => grain.StartAsync(submitted, cancellationToken), ClusterFailures.SiloDied, cancellationToken);
        if (submitted.Mode == BatchMode.Async || (submitted.Mode == BatchMode.Auto && submitted.Operations.Count > limits.SyncThreshold))
        {
            return Accepted(progress);
        }

        progress = await WaitForEndAsync(grain, retry, progress, limits.SyncTimeout, cancellationToken) ?? progress;
        if (!progress.IsTerminal)
        {
            return submitted.Mode == BatchMode.Sync
                ? TypedResults.Problem(ApiProblems.SyncTimeout(batchId, limits.SyncTimeout))
                : Accepted(progress);
        }

        return new BatchCompletedResult(progress, await ReadAllResultsAsync(grain, retry, limits.MaxResultsPageSize, cancellationToken));
    }

    /// <summary>
    /// The batch's status; with <c>wait</c> (seconds), answered as soon as the batch ends, or when that time is up with
    /// the status it has then, so a client learns of the end without polling.
    /// </summary>
    internal static async Task<Results<Ok<BatchStatusResponse>, ProblemHttpResult>> GetStatusAsync(
        string batchId, string? wait, IClusterClient cluster, GrainRetry retry, IOptions<BatchApiOptions> options, CancellationToken cancellationToken)
    {
        // wait is bound as text so that a non-number is named in 'errors' like a number out of range.
        var max = options.Value.MaxStatusWaitSeconds;
        var seconds = 0;
        if (wait is not null && (!int.TryParse(wait, NumberStyles.Integer, CultureInfo.InvariantCulture, out seconds) || seconds < 0 || seconds > max))
        {
            return TypedResults.Problem(ApiProblems.Invalid(
                new Dictionary<string, string[]> { ["wait"] = [$"Must be a whole number of seconds from 0 to {max}."] }, "The status query is invalid."));
        }

        var grain = cluster.GetGrain<IBatchGrain>(batchId);
        var progress = await WaitForEndAsync(
            grain, retry, await retry.RunAsync(grain.GetStatusAsync, cancellationToken), TimeSpan.FromSeconds(seconds), cancellationToken);
        return progress is null
            ? TypedResults.Problem(ApiProblems.BatchNotFound(batchId))
            : TypedResults.Ok(BatchStatusResponse.From(progress));
    }

    /// <summary>
    /// Waits up to <paramref name="within"/> for the batch to end (the grain waits a bounded time per call): its progress
    /// once it ended, else as it stands when the time is up; null when there is no such batch.
    /// </summary>
    private static async Task<BatchProgress?> WaitForEndAsync(
        IBatchGrain grain, GrainRetry retry, BatchProgress? progress, TimeSpan within, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + within;
        while (progress is { IsTerminal: false } && deadline - DateTimeOffset.UtcNow is { Ticks: > 0 } left)
        {
            progress = await retry.RunAsync(() => grain.WaitAsync(left, cancellationToken), cancellationToken)
                ?? await retry.RunAsync(grain.GetStatusAsync, cancellationToken);
        }

        return progress;
    }

    internal static async Task<Results<ResultsPageResult, ResultsDownload, ProblemHttpResult>> GetResultsAsync(
        string batchId, string? cursor, string? limit, string? status, string? format, HttpRequest request,
        IClusterClient cluster, GrainRetry retry, IOptions<BatchApiOptions> options, CancellationToken cancellationToken)
    {
        // limit is bound as text so that a non-number is named in 'errors' like every other invalid parameter.
        var max = options.Value.MaxResultsPageSize;
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        int? pageSize = null;
        if (limit is not null)
        {
            if (int.TryParse(limit, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 1 && value <= max)
            {
                pageSize = value;
            }
            else
            {
                errors["limit"] = [$"Must be a whole number from 1 to {max}."];
            }
        }

        var after = -1;
        if (cursor is not null && (!int.TryParse(cursor, out after) || after < 0))
        {
            errors["cursor"] = ["Must be a cursor returned as nextCursor by an earlier page."];
        }

        ItemOutcome? outcome = status?.ToLowerInvariant() switch
        {
            null => null,
            "succeeded" => ItemOutcome.Succeeded,
            "failed" => ItemOutcome.Failed,
            "cancelled" => ItemOutcome.Cancelled,
            _ => null,
        };
        if (status is not null && outcome is null)
        {
            errors["status"] = ["Must be one of succeeded, failed, cancelled."];
        }

        var download = DownloadFormatOf(format, request.Headers.Accept.ToString(), errors);
        if (errors.Count > 0)
        {
            return TypedResults.Problem(ApiProblems.Invalid(errors, "The results query is invalid."));
        }

        var grain = cluster.GetGrain<IBatchGrain>(batchId);
        if (download is { } fileFormat)
        {
            return await retry.RunAsync(grain.GetStatusAsync, cancellationToken) is null
                ? TypedResults.Problem(ApiProblems.BatchNotFound(batchId))
                : new ResultsDownload(grain, batchId, fileFormat, outcome, max);
        }

        var page = await retry.RunAsync(() => grain.GetResultsAsync(after, pageSize ?? options.Value.DefaultResultsPageSize, outcome, cancellationToken), cancellationToken);
        return page is null ? TypedResults.Problem(ApiProblems.BatchNotFound(batchId)) : new ResultsPageResult(page);
    }

    internal static async Task<Results<Ok<BatchStatusResponse>, ProblemHttpResult>> CancelAsync(
        string batchId, IClusterClient cluster, CancellationToken cancellationToken)
    {
        var result = await cluster.GetGrain<IBatchGrain>(batchId).CancelAsync(cancellationToken);
        return result switch
        {
            { Progress: null } => TypedResults.Problem(ApiProblems.BatchNotFound(batchId)),
            { Conflict: { } conflict } => TypedResults.Problem(ApiProblems.BatchConflict(batchId, conflict)),
            _ => TypedResults.Ok(BatchStatusResponse.From(result.Progress)),
        };
    }

    internal static async Task<Results<Accepted<BatchStatusResponse>, ProblemHttpResult>> RetryAsync(
        string batchId, IClusterClient cluster, CancellationToken cancellationToken)
    {
        var result = await cluster.GetGrain<IBatchGrain>(batchId).RetryAsync(cancellationToken);
        return result switch
        {
            { Progress: null } => TypedResults.Problem(ApiProblems.BatchNotFound(batchId)),
            { Conflict: { } conflict } => TypedResults.Problem(ApiProblems.BatchConflict(batchId, conflict)),
            _ => TypedResults.Accepted(StatusUrl(batchId), BatchStatusResponse.From(result.Progress)),
        };
    }

    internal static Accepted<BatchAcceptedResponse> Accepted(BatchProgress progress) =>
        TypedResults.Accepted(StatusUrl(progress.BatchId), new BatchAcceptedResponse(
            progress.BatchId, ResultJson.StatusName(progress.Status), StatusUrl(progress.BatchId), ResultsUrl(progress.BatchId)));

    internal static string StatusUrl(string batchId) => $"/batch/{batchId}/status";

    internal static string ResultsUrl(string batchId) => $"/batch/{batchId}/results";

    internal static bool IsJson(string? contentType) =>
        contentType is null
        || contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
        || (contentType.StartsWith("application/", StringComparison.OrdinalIgnoreCase)
            && contentType.Split(';')[0].EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    private static async Task<List<OperationResult>> ReadAllResultsAsync(IBatchGrain grain, GrainRetry retry, int pageSize, CancellationToken cancellationToken)
    {
        var results = new List<OperationResult>();
        int? after = -1;
        while (after is { } position && await retry.RunAsync(() => grain.GetResultsAsync(position, pageSize, null, cancellationToken), cancellationToken) is { } page)
        {
            results.AddRange(page.Items.Select(i => i.Result));
            after = page.NextAfter;
        }

        return results;
    }

    private static DownloadFormat? DownloadFormatOf(string? format, string accept, Dictionary<string, string[]> errors)
    {
        switch (format?.ToLowerInvariant())
        {
            case "csv":
                return DownloadFormat.Csv;
            case "ndjson":
                return DownloadFormat.Ndjson;
            case "json":
                return null;
            case null:
                break;
            default:
                errors["format"] = ["Must be one of json, csv, ndjson."];
                return null;
        }

        return accept.Contains("text/csv", StringComparison.OrdinalIgnoreCase) ? DownloadFormat.Csv
            : accept.Contains("application/x-ndjson", StringComparison.OrdinalIgnoreCase) ? DownloadFormat.Ndjson
            : null;
    }
}

public sealed record BatchAcceptedResponse(string BatchId, string Status, string StatusUrl, string ResultsUrl);
