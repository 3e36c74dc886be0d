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
/// so all its operations are never held at once. The file is checked whole before any row is stored; the batch
/// starts running its first slice while the later ones are still being stored.
/// </summary>
public static class ImportEndpoints
{
    /// <summary>Uploads up to this size are held in memory between the two reads; larger ones are spooled to a temporary file.</summary>
    private const int SpoolThreshold = 1024 * 1024;

    /// <summary>The most rows of the first slice handed to the batch (a page of items); the later ones hold the slice size.</summary>
    private const int FirstSliceSize = 1000;

    private const int AppendAttempts = 3;

    private static readonly TimeSpan AppendRetryDelay = TimeSpan.FromSeconds(1);

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

        // The body is read twice: a first pass checks the whole file's format, so that a malformed file imports
        // nothing, and fingerprints it; the second hands it to the batch, which runs the first rows while the later
        // ones are stored. A key is claimed only for a well-formed file, with the file's fingerprint: the same key
        // with another file is refused (422), with the same file it answers the first batch.
        request.EnableBuffering(SpoolThreshold);
        var scan = await ScanAsync(request, limits, cancellationToken);
        if (scan.Problem is { } problem)
        {
            return TypedResults.Problem(problem);
        }

        var batchId = Submissions.NewBatchId();
        if (await Submissions.ClaimAsync(cluster, request, limits, batchId, scan.Fingerprint!) is { IsNew: false } claim)
        {
            if (!claim.SameRequest)
            {
                return TypedResults.Problem(ApiProblems.SubmissionKeyReused());
            }

            var existing = await cluster.GetGrain<IBatchGrain>(claim.BatchId).GetStatusAsync();
            if (existing is not null)
            {
                return BatchEndpoints.Accepted(existing);
            }

            batchId = claim.BatchId;
        }

        request.Body.Position = 0;
        var body = await OpenCsvAsync(request, cancellationToken);
        var csv = PipeReader.Create(body.Csv!, new StreamPipeReaderOptions(leaveOpen: true));
        var grain = cluster.GetGrain<IBatchGrain>(batchId);
        try
        {
            return BatchEndpoints.Accepted(await UploadAsync(grain, batchId, csv, scan.Rows, requested, limits.ImportSliceSize, cancellationToken));
        }
        catch (Exception)
        {
            // Before the batch is sealed this discards it; after, it ends the batch at the rows it already holds.
            await grain.AbortAsync(CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Parses the whole file without storing anything: its data rows and fingerprint (the CSV's SHA-256), or why it
    /// cannot be imported.
    /// </summary>
    private static async Task<(int Rows, byte[]? Fingerprint, Microsoft.AspNetCore.Mvc.ProblemDetails? Problem)> ScanAsync(
        HttpRequest request, BatchApiOptions limits, CancellationToken cancellationToken)
    {
        try
        {
            var body = await OpenCsvAsync(request, cancellationToken);
            if (body.Problem is not null)
            {
                return (0, null, body.Problem);
            }

            await using var hashed = new HashingReadStream(body.Csv!);
            var (rows, problem) = await CheckAsync(PipeReader.Create(hashed, new StreamPipeReaderOptions(leaveOpen: true)), limits, cancellationToken);
            return (rows, problem is null ? hashed.Hash() : null, problem);
        }
        catch (Exception e) when (e is InvalidDataException or IOException && e is not BadHttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            // The multipart reader's own errors: a part cut short, a boundary never closed, a header line too long.
            return (0, null, ApiProblems.MalformedMultipart($"The multipart body could not be read: {e.Message}"));
        }
    }

    private static async Task<(int Rows, Microsoft.AspNetCore.Mvc.ProblemDetails? Problem)> CheckAsync(
        PipeReader csv, BatchApiOptions limits, CancellationToken cancellationToken)
    {
        await using var reader = new CsvRecordReader(csv);
        try
        {
            var header = await reader.ReadAsync(cancellationToken);
            if (header is null || !CsvRecordReader.IsHeader(header, UserImport.Columns))
            {
                return (0, ApiProblems.InvalidCsv(header?.Line ?? 1, header is null
                    ? "The file is empty; it needs the header row email,name."
                    : $"Line {header.Line} must be the header row email,name."));
            }

            var rows = 0;
            while (await reader.SkipAsync(cancellationToken))
            {
                if (rows == limits.MaxImportRows)
                {
                    return (rows, ApiProblems.TooManyRows(limits.MaxImportRows));
                }

                rows++;
            }

            // A batch of no items is never stored, so it could not be sealed; an empty POST /batch is a 400 too.
            return rows > 0 ? (rows, null) : (0, ApiProblems.InvalidCsv(header.Line + 1,
                $"The file has the header row but no data rows; add one row per user after line {header.Line}."));
        }
        catch (CsvFormatException e)
        {
            return (0, ApiProblems.InvalidCsv(e.Line, e.Message));
        }
    }

    /// <summary>
    /// Hands the checked file to the batch a slice at a time, parsing the next slice while the previous one is stored.
    /// The batch is sealed at its known size after the first slice, so its run starts while the rest is stored.
    /// </summary>
    private static async Task<BatchProgress> UploadAsync(
        IBatchGrain grain, string batchId, PipeReader body, int total, int? concurrency, int sliceSize, CancellationToken cancellationToken)
    {
        await using var reader = new CsvRecordReader(body);
        Task<BatchProgress>? stored = null;
        try
        {
            await reader.SkipAsync(cancellationToken);
            // The run starts once the first slice is stored, so that one is small: the batch is busy sooner.
            var limit = Math.Min(sliceSize, FirstSliceSize);
            var slice = new List<BatchItem>(limit);
            var rows = 0;
            while (rows < total && await reader.ReadAsync(cancellationToken) is { } record)
            {
                rows++;
                slice.Add(UserImport.ToItem(batchId, rows, record));
                if (slice.Count < limit && rows < total)
                {
                    continue;
                }

                if (stored is not null && await stored is { Status: not (BatchStatus.Pending or BatchStatus.Processing) } ended)
                {
                    // Cancelled while uploading: the rest of the file is not stored.
                    return ended;
                }

                stored = AppendAndSealAsync(grain, rows - slice.Count, slice, stored is null ? (total, concurrency) : null, cancellationToken);
                limit = sliceSize;
                slice = new List<BatchItem>(limit);
            }

            return rows == total && stored is not null
                ? await stored
                : throw new InvalidOperationException($"The file held {total} rows on its first read and {rows} on its second.");
        }
        finally
        {
            // Whatever ends the upload, no append is still running when the caller aborts the batch.
            if (stored is not null)
            {
                await Task.WhenAny(stored);
            }
        }
    }

    private static async Task<BatchProgress> AppendAndSealAsync(
        IBatchGrain grain, int firstSeq, List<BatchItem> slice, (int Total, int? Concurrency)? seal, CancellationToken cancellationToken)
    {
        BatchProgress progress;
        var encoded = BatchItemSlice.Of(slice) with { SourceFields = UserImport.Columns };
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                progress = await grain.AppendAsync(firstSeq, encoded, cancellationToken);
                break;
            }
            catch (Exception e) when (attempt < AppendAttempts && e is not (ArgumentException or InvalidOperationException or OperationCanceledException))
            {
                // The batch's silo died or its database blinked: the slice is stored again whole, so retrying is safe.
                await Task.Delay(AppendRetryDelay * attempt, cancellationToken);
            }
        }

        return seal is { } at ? await grain.SealAsync(at.Total, at.Concurrency, cancellationToken) : progress;
    }

    /// <summary>The CSV bytes: the body itself for text/csv, the first file part's for multipart/form-data.</summary>
    private static async Task<(Stream? Csv, Microsoft.AspNetCore.Mvc.ProblemDetails? Problem)> OpenCsvAsync(
        HttpRequest request, CancellationToken cancellationToken)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type))
        {
            return (null, ApiProblems.UnsupportedMediaType(request.ContentType, "text/csv or multipart/form-data"));
        }

        if (type.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase)
            || type.MediaType.Equals("application/csv", StringComparison.OrdinalIgnoreCase))
        {
            return (request.Body, null);
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
                return (section.Body, null);
            }
        }

        return (null, ApiProblems.InvalidCsv(1, "The multipart body has no file part; send the CSV as a file field."));
    }
}
