using System.Globalization;
using System.Text.Json;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;

namespace Orleans.Batch.Gateway.Http;

/// <summary>Writes per-item results, whose bodies arrive as raw JSON from the silos and are passed through untouched.</summary>
internal static class ResultJson
{
    public static void WriteResult(Utf8JsonWriter writer, OperationResult result, ItemOutcome? outcome = null, IReadOnlyList<string>? source = null)
    {
        writer.WriteStartObject();
        writer.WriteString("id", result.Id);
        writer.WriteNumber("status", result.Status);
        if (outcome is { } o)
        {
            writer.WriteString("outcome", OutcomeName(o));
        }

        if (result.Location is not null)
        {
            writer.WriteStartObject("headers");
            writer.WriteString("location", result.Location);
            writer.WriteEndObject();
        }

        if (result.Body is not null)
        {
            writer.WritePropertyName(result.Succeeded ? "result" : "error");
            writer.WriteRawValue(result.Body, skipInputValidation: true);
        }

        if (source is not null)
        {
            writer.WriteStartArray("source");
            foreach (var value in source)
            {
                writer.WriteStringValue(value);
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
    }

    public static string StatusName(BatchStatus status) => status.ToString().ToLowerInvariant();

    public static string OutcomeName(ItemOutcome outcome) => outcome.ToString().ToLowerInvariant();
}

/// <summary>The answer to a batch that ran to its end: 200 when every item got a 2xx, 207 Multi-Status otherwise.</summary>
internal sealed class BatchCompletedResult(BatchProgress progress, IReadOnlyList<OperationResult> results) : IResult
{
    public int StatusCode => progress.Failed + progress.Cancelled == 0 ? StatusCodes.Status200OK : StatusCodes.Status207MultiStatus;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = StatusCode;
        httpContext.Response.ContentType = "application/json; charset=utf-8";
        await using var writer = new Utf8JsonWriter(httpContext.Response.BodyWriter);
        writer.WriteStartObject();
        writer.WriteString("batchId", progress.BatchId);
        writer.WriteString("status", ResultJson.StatusName(progress.Status));
        writer.WriteStartObject("summary");
        writer.WriteNumber("total", progress.Total);
        writer.WriteNumber("succeeded", progress.Succeeded);
        writer.WriteNumber("failed", progress.Failed);
        if (progress.Cancelled > 0)
        {
            writer.WriteNumber("cancelled", progress.Cancelled);
        }

        writer.WriteEndObject();
        writer.WriteStartArray("results");
        foreach (var result in results)
        {
            ResultJson.WriteResult(writer, result);
            if (writer.BytesPending > 32 * 1024)
            {
                await writer.FlushAsync(httpContext.RequestAborted);
            }
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(httpContext.RequestAborted);
    }
}

/// <summary>One page of a batch's results, in request order, with the cursor of the next page.</summary>
internal sealed class ResultsPageResult(BatchResultsPage page) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = StatusCodes.Status200OK;
        httpContext.Response.ContentType = "application/json; charset=utf-8";
        await using var writer = new Utf8JsonWriter(httpContext.Response.BodyWriter);
        writer.WriteStartObject();
        writer.WriteString("batchId", page.Progress.BatchId);
        writer.WriteString("status", ResultJson.StatusName(page.Progress.Status));
        writer.WriteNumber("total", page.Progress.Total);
        writer.WriteStartArray("items");
        foreach (var item in page.Items)
        {
            ResultJson.WriteResult(writer, item.Result, item.Outcome);
        }

        writer.WriteEndArray();
        if (page.NextAfter is { } next)
        {
            writer.WriteString("nextCursor", next.ToString(CultureInfo.InvariantCulture));
        }
        else
        {
            writer.WriteNull("nextCursor");
        }

        writer.WriteEndObject();
        await writer.FlushAsync(httpContext.RequestAborted);
    }
}

/// <summary>A single-resource answer, passed through as the silo gave it.</summary>
internal sealed class OperationHttpResult(OperationResult result) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = result.Status;
        if (result.Location is not null)
        {
            response.Headers.Location = result.Location;
        }

        if (result.Status == StatusCodes.Status405MethodNotAllowed && result.Body is not null)
        {
            response.Headers.Allow = AllowedMethods(result.Body);
        }

        if (result.Body is not null)
        {
            response.ContentType = result.Succeeded ? "application/json; charset=utf-8" : "application/problem+json; charset=utf-8";
            await response.WriteAsync(result.Body, httpContext.RequestAborted);
        }
    }

    private static string AllowedMethods(string problem)
    {
        using var document = JsonDocument.Parse(problem);
        return document.RootElement.TryGetProperty("allowed", out var allowed)
            ? string.Join(", ", allowed.EnumerateArray().Select(m => m.GetString()))
            : "";
    }
}
