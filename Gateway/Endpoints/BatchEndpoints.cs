using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Orleans.Batch.Gateway.Batches;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Gateway.Http;
using Orleans.Batch.Grains.Interfaces.Batches;

namespace Orleans.Batch.Gateway.Endpoints;

public static class BatchEndpoints
{
    private static readonly TimeSpan WaitSlice = TimeSpan.FromSeconds(10);

    public static IEndpointRouteBuilder MapBatchEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/batch").WithTags("Batches");
        group.MapPost("/", SubmitAsync);
        group.MapGet("/{batchId}/status", GetStatusAsync);
        group.MapGet("/{batchId}/results", GetResultsAsync);
        return app;
    }

    internal static async Task<Results<BatchOutcomeResult, ProblemHttpResult>> SubmitAsync(
        HttpRequest request, IClusterClient cluster, IOptions<BatchApiOptions> options, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        if (!IsJson(request.ContentType))
        {
            return TypedResults.Problem(ApiProblems.UnsupportedMediaType(request.ContentType));
        }

        if (request.ContentLength > limits.MaxRequestBytes)
        {
            return TypedResults.Problem(ApiProblems.BodyTooLarge(limits.MaxRequestBytes));
        }

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, default, cancellationToken);
        }
        catch (JsonException e)
        {
            return TypedResults.Problem(ApiProblems.MalformedJson(
                $"The body is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}). Nothing was executed."));
        }

        var batchId = Guid.CreateVersion7().ToString("N");
        BatchRequest? batch;
        using (document)
        {
            if (BatchEnvelope.TryRead(document.RootElement, limits, batchId, out batch) is { } problem)
            {
                return TypedResults.Problem(problem);
            }
        }

        var grain = cluster.GetGrain<IBatchGrain>(batchId);
        await grain.StartAsync(batch!, cancellationToken);
        BatchOutcome? outcome;
        while ((outcome = await grain.WaitAsync(WaitSlice, cancellationToken)) is null)
        {
            cancellationToken.ThrowIfCancellationRequested();
        }

        return new BatchOutcomeResult(outcome);
    }

    internal static async Task<Results<Ok<BatchStatusResponse>, ProblemHttpResult>> GetStatusAsync(string batchId, IClusterClient cluster)
    {
        var progress = await cluster.GetGrain<IBatchGrain>(batchId).GetStatusAsync();
        return progress is null
            ? TypedResults.Problem(ApiProblems.BatchNotFound(batchId))
            : TypedResults.Ok(BatchStatusResponse.From(progress));
    }

    internal static async Task<Results<ResultsPageResult, ProblemHttpResult>> GetResultsAsync(
        string batchId, string? cursor, int? limit, IClusterClient cluster, IOptions<BatchApiOptions> options)
    {
        var max = options.Value.MaxResultsPageSize;
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (limit is < 1 || limit > max)
        {
            errors["limit"] = [$"Must be from 1 to {max}."];
        }

        var offset = 0;
        if (cursor is not null && (!int.TryParse(cursor, out offset) || offset < 0))
        {
            errors["cursor"] = ["Must be a cursor returned as nextCursor by an earlier page."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.Problem(ApiProblems.Invalid(errors, "The results query is invalid."));
        }

        var page = await cluster.GetGrain<IBatchGrain>(batchId).GetResultsAsync(offset, limit ?? options.Value.DefaultResultsPageSize);
        return page is null
            ? TypedResults.Problem(ApiProblems.BatchNotFound(batchId))
            : new ResultsPageResult(page, page.NextOffset?.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static bool IsJson(string? contentType) =>
        contentType is null
        || contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
        || (contentType.StartsWith("application/", StringComparison.OrdinalIgnoreCase)
            && contentType.Split(';')[0].EndsWith("+json", StringComparison.OrdinalIgnoreCase));
}
