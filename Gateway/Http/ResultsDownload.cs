using System.Globalization;
using System.Text;
using System.Text.Json;
using Orleans.Batch.Grains.Interfaces.Batches;

namespace Orleans.Batch.Gateway.Http;

internal enum DownloadFormat
{
    Csv,
    Ndjson,
}

/// <summary>
/// A batch's results as a downloadable file of any size: page after page is read from the batch and written
/// out, so the gateway holds one page at a time. Import batches get their original columns back.
/// </summary>
internal sealed class ResultsDownload(IBatchGrain batch, string batchId, DownloadFormat format, ItemOutcome? outcome, int pageSize) : IResult
{
    private static readonly string[] ImportColumns = ["row", "email", "name", "status", "outcome", "userId", "error"];
    private static readonly string[] BatchColumns = ["id", "status", "outcome", "location", "result", "error"];

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        var cancellationToken = httpContext.RequestAborted;
        var extension = format == DownloadFormat.Csv ? "csv" : "ndjson";
        response.ContentType = format == DownloadFormat.Csv ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8";
        response.Headers.ContentDisposition = $"attachment; filename=\"batch-{batchId}-results.{extension}\"";

        var after = -1;
        var first = true;
        var import = false;
        while (true)
        {
            var page = await batch.GetResultsAsync(after, pageSize, outcome, cancellationToken);
            if (page is null)
            {
                return;
            }

            var text = new StringBuilder();
            if (first && format == DownloadFormat.Csv)
            {
                // The batch says so even when no item is on the page (a filter matching none, nothing finished yet);
                // batches stored before it did are known by their items.
                import = page.Progress.HasSource || (page.Items.Count > 0 && page.Items[0].Source is not null);
                AppendCsvRow(text, import ? ImportColumns : BatchColumns);
            }

            first = false;
            foreach (var item in page.Items)
            {
                if (format == DownloadFormat.Csv)
                {
                    AppendCsvRow(text, import ? ImportRow(item) : BatchRow(item));
                }
                else
                {
                    text.Append(JsonLine(item)).Append('\n');
                }
            }

            await response.WriteAsync(text.ToString(), cancellationToken);
            await response.Body.FlushAsync(cancellationToken);
            if (page.NextAfter is not { } next)
            {
                return;
            }

            after = next;
        }
    }

    private static string[] ImportRow(BatchItemResult item)
    {
        var source = item.Source ?? [];
        var row = item.Result.Id.StartsWith("row-", StringComparison.Ordinal) ? item.Result.Id[4..] : item.Result.Id;
        return
        [
            row, source.Count > 0 ? source[0] : "", source.Count > 1 ? source[1] : "",
            item.Result.Status.ToString(CultureInfo.InvariantCulture), ResultJson.OutcomeName(item.Outcome),
            item.Result.Succeeded ? ResourceId(item.Result.Body) : "", item.Result.Succeeded ? "" : ErrorText(item.Result.Body),
        ];
    }

    private static string[] BatchRow(BatchItemResult item) =>
    [
        item.Result.Id, item.Result.Status.ToString(CultureInfo.InvariantCulture), ResultJson.OutcomeName(item.Outcome),
        item.Result.Location ?? "", item.Result.Succeeded ? item.Result.Body ?? "" : "", item.Result.Succeeded ? "" : ErrorText(item.Result.Body),
    ];

    private static string JsonLine(BatchItemResult item)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            ResultJson.WriteResult(writer, item.Result, item.Outcome, item.Source);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string ResourceId(string? body)
    {
        if (body is null)
        {
            return "";
        }

        using var document = JsonDocument.Parse(body);
        return document.RootElement.TryGetProperty("id", out var id) ? id.GetRawText() : "";
    }

    /// <summary>A problem's detail followed by each field error, on one line.</summary>
    internal static string ErrorText(string? problem)
    {
        if (problem is null)
        {
            return "";
        }

        using var document = JsonDocument.Parse(problem);
        var root = document.RootElement;
        var parts = new List<string>();
        if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
        {
            parts.AddRange(errors.EnumerateObject().Select(e => $"{e.Name}: {string.Join(" ", e.Value.EnumerateArray().Select(m => m.GetString()))}"));
        }
        else if (root.TryGetProperty("detail", out var detail))
        {
            parts.Add(detail.GetString() ?? "");
        }

        return string.Join("; ", parts);
    }

    private static void AppendCsvRow(StringBuilder text, IReadOnlyList<string> fields)
    {
        for (var i = 0; i < fields.Count; i++)
        {
            if (i > 0)
            {
                text.Append(',');
            }

            var field = fields[i];
            if (field.AsSpan().IndexOfAny(",\"\r\n") >= 0)
            {
                text.Append('"').Append(field.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
            }
            else
            {
                text.Append(field);
            }
        }

        text.Append("\r\n");
    }
}
