using System.Globalization;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Orleans.Batch.Gateway.Batches;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Gateway.Http;
using Orleans.Batch.Gateway.Imports;
using Orleans.Batch.Grains.Interfaces.Batches;

namespace Orleans.Batch.Gateway.Endpoints;

/// <summary>
/// CSV imports: the upload is streamed, parsed a record at a time and handed to the batch a slice at a time,
/// so neither the file nor all its operations are ever held at once. The batch runs once the whole file is in.
/// </summary>
public static class ImportEndpoints
{
    public static IEndpointRouteBuilder MapImportEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/batch/users/import", ImportUsersAsync).WithTags("Batches");
        return app;
    }

    internal static async Task<Results<Accepted<BatchAcceptedResponse>, ProblemHttpResult>> ImportUsersAsync(
        HttpRequest request, string? concurrency, IClusterClient cluster, IOptions<BatchApiOptions> options, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = limits.MaxImportBytes;
        }

        // concurrency is bound as text so that a non-number is named in 'errors' like a number below 1.
        int? requested = null;
        if (concurrency is not null)
        {
            if (!int.TryParse(concurrency, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < 1)
            {
                return TypedResults.Problem(ApiProblems.Invalid(
                    new Dictionary<string, string[]> { ["concurrency"] = ["Must be a whole number of at least 1."] }, "Nothing was imported."));
            }

            requested = value;
        }

        if (Submissions.ReadKey(request, limits) is { Problem: { } keyProblem })
        {
            return TypedResults.Problem(keyProblem);
        }

        var batchId = Submissions.NewBatchId();
        if (await Submissions.ClaimAsync(cluster, request, limits, batchId, []) is { IsNew: false } claim)
        {
            var existing = await cluster.GetGrain<IBatchGrain>(claim.BatchId).GetStatusAsync();
            if (existing is not null)
            {
                return BatchEndpoints.Accepted(existing);
            }

            batchId = claim.BatchId;
        }

        var body = await OpenCsvAsync(request, cancellationToken);
        if (body.Problem is { } problem)
        {
            return TypedResults.Problem(problem);
        }

        var grain = cluster.GetGrain<IBatchGrain>(batchId);
        try
        {
            var total = await UploadAsync(grain, batchId, body.Reader!, limits, cancellationToken);
            if (total.Problem is { } uploadProblem)
            {
                await grain.AbortAsync(CancellationToken.None);
                return TypedResults.Problem(uploadProblem);
            }

            return BatchEndpoints.Accepted(await grain.SealAsync(total.Rows, requested, cancellationToken));
        }
        catch (Exception)
        {
            await grain.AbortAsync(CancellationToken.None);
            throw;
        }
    }

    private static async Task<(int Rows, Microsoft.AspNetCore.Mvc.ProblemDetails? Problem)> UploadAsync(
        IBatchGrain grain, string batchId, PipeReader body, BatchApiOptions limits, CancellationToken cancellationToken)
    {
        await using var reader = new CsvRecordReader(body);
        Task stored = Task.CompletedTask;
        try
        {
            var header = await reader.ReadAsync(cancellationToken);
            if (header is null || !CsvRecordReader.IsHeader(header, UserImport.Columns))
            {
                return (0, ApiProblems.InvalidCsv(header?.Line ?? 1, header is null
                    ? "The file is empty; it needs the header row email,name."
                    : $"Line {header.Line} must be the header row email,name."));
            }

            var slice = new List<BatchItem>(limits.ImportSliceSize);
            var rows = 0;
            // One slice is stored while the next is parsed; slices are still appended one after another, in order.
            while (await reader.ReadAsync(cancellationToken) is { } record)
            {
                if (rows == limits.MaxImportRows)
                {
                    await stored;
                    return (rows, ApiProblems.TooManyRows(limits.MaxImportRows));
                }

                rows++;
                slice.Add(UserImport.ToItem(batchId, rows, record));
                if (slice.Count == limits.ImportSliceSize)
                {
                    await stored;
                    stored = grain.AppendAsync(rows - slice.Count, slice, cancellationToken);
                    slice = new List<BatchItem>(limits.ImportSliceSize);
                }
            }

            await stored;

            if (rows == 0)
            {
                // A batch of no items is never stored, so it could not be sealed; an empty POST /batch is a 400 too.
                return (0, ApiProblems.InvalidCsv(header.Line + 1,
                    $"The file has the header row but no data rows; add one row per user after line {header.Line}."));
            }

            await grain.AppendAsync(rows - slice.Count, slice, cancellationToken);
            return (rows, null);
        }
        catch (CsvFormatException e)
        {
            return (0, ApiProblems.InvalidCsv(e.Line, e.Message));
        }
        finally
        {
            // Whatever ends the upload, no append is still running when the caller aborts the batch.
            await Task.WhenAny(stored);
        }
    }

    /// <summary>The CSV bytes: the body itself for text/csv, the first file part's for multipart/form-data.</summary>
    private static async Task<(PipeReader? Reader, Microsoft.AspNetCore.Mvc.ProblemDetails? Problem)> OpenCsvAsync(
        HttpRequest request, CancellationToken cancellationToken)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type))
        {
            return (null, ApiProblems.UnsupportedMediaType(request.ContentType, "text/csv or multipart/form-data"));
        }

        if (type.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase)
            || type.MediaType.Equals("application/csv", StringComparison.OrdinalIgnoreCase))
        {
            return (request.BodyReader, null);
        }

        if (!type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(type.Boundary).Value is not { Length: > 0 } boundary)
        {
            return (null, ApiProblems.UnsupportedMediaType(request.ContentType, "text/csv or multipart/form-data"));
        }

        var multipart = new MultipartReader(boundary, request.Body);
        while (await multipart.ReadNextSectionAsync(cancellationToken) is { } section)
        {
            if (ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) && disposition.IsFileDisposition())
            {
                return (PipeReader.Create(section.Body), null);
            }
        }

        return (null, ApiProblems.InvalidCsv(1, "The multipart body has no file part; send the CSV as a file field."));
    }
}
