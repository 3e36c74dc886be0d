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
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Gateway.Endpoints;

/// <summary>
/// CSV imports: the upload is streamed, parsed a record at a time and handed to the batch a slice at a time,
/// so all its operations are never held at once. The file is checked whole before any row is stored; the batch
/// starts running its first slice while the later ones are still being stored.
/// </summary>
public static partial class ImportEndpoints
{
    /// <summary>Uploads up to this size are held in memory between the two reads; larger ones are spooled to a temporary file.</summary>
    private const int SpoolThreshold = 1024 * 1024;

    /// <summary>The most rows of the first slice handed to the batch (a page of items); the later ones hold the slice size.</summary>
    private const int FirstSliceSize = 1000;

    public static IEndpointRouteBuilder MapImportEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/batch/users/import", ImportUsersAsync).WithTags("Batches");
        return app;
    }

    internal static async Task<Results<Accepted<BatchAcceptedResponse>, ProblemHttpResult>> ImportUsersAsync(
        HttpRequest request, string? concurrency, IClusterClient cluster, GrainRetry retry, IOptions<BatchApiOptions> options,
        ILoggerFactory loggers, CancellationToken cancellationToken)
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
        // The tenant's rows quota applies within the service's own limit (Batch:MaxImportRows).
        var quotas = await retry.RunAsync(
            attempt => cluster.GetGrain<ITenantGrain>(TenantContext.Required).GetQuotasAsync(attempt), ClusterFailures.SiloDied, cancellationToken);
        var rowLimit = quotas is { ImportRows: var quota } && quota < limits.MaxImportRows ? (quota, true) : (limits.MaxImportRows, false);
        request.EnableBuffering(SpoolThreshold);
        var scan = await ScanAsync(request, rowLimit, cancellationToken);
        if (scan.Problem is { } problem)
        {
            return TypedResults.Problem(problem);
        }

        var batchId = Submissions.NewBatchId();
        var keyed = Submissions.ReadKey(request, limits).Key is not null;
        var from = 0;
        if (await Submissions.ClaimAsync(cluster, retry, request, limits, batchId, scan.Fingerprint!) is { IsNew: false } claim)
        {
            if (!claim.SameRequest)
            {
                return TypedResults.Problem(ApiProblems.SubmissionKeyReused());
            }

            // The same file under the same key: the first upload's batch, carried on from the rows it does not hold yet.
            batchId = claim.BatchId;
            var resumed = await retry.RunAsync(
                attempt => cluster.GetGrain<IBatchGrain>(batchId).ResumeUploadAsync(attempt), ClusterFailures.SiloDied, cancellationToken);
            switch (ImportResend.Decide(resumed, scan.Rows))
            {
                case ResendAction.CancelledPart:
                    return TypedResults.Problem(ApiProblems.CancelledWhileUploading(batchId, resumed.Progress!.Stored, scan.Rows));
                case ResendAction.Accepted:
                    return BatchEndpoints.Accepted(resumed.Progress!);
                case ResendAction.StillUploading:
                    request.HttpContext.Response.Headers.RetryAfter = limits.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                    return TypedResults.Problem(ApiProblems.UploadInProgress(batchId, resumed.Conflict!));
                case ResendAction.Resume:
                    from = resumed.Progress!.Stored;
                    break;
            }
        }

        request.Body.Position = 0;
        var body = await OpenCsvAsync(request, cancellationToken);
        var csv = PipeReader.Create(body.Csv!, new StreamPipeReaderOptions(leaveOpen: true));
        var upload = new Upload(cluster.GetGrain<IBatchGrain>(batchId), batchId, scan.Rows, requested, limits.ImportSliceSize, retry);
        try
        {
            return BatchEndpoints.Accepted(await upload.RunAsync(csv, from, cancellationToken));
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // Before the batch is sealed this discards it; after, the batch keeps its total and runs the rows it holds.
            await AbortAsync(upload, loggers);
            if (upload.Stored is null)
            {
                // Nothing was kept: the failure is answered as for any other request (a 503 commits nothing).
                throw;
            }
            if (e is UploadStoppedException { Progress.Status: BatchStatus.Cancelled } cancelled)
            {
                return TypedResults.Problem(ApiProblems.CancelledWhileUploading(batchId, cancelled.Progress.Stored, scan.Rows));
            }

            var status = e is UploadStoppedException
                ? StatusCodes.Status409Conflict
                : ProblemExceptionHandler.ProblemFor(e, limits.MaxImportBytes).Status ?? StatusCodes.Status500InternalServerError;
            LogUploadFailed(loggers, batchId, upload.Stored.Value, scan.Rows, e);
            return TypedResults.Problem(ApiProblems.UploadIncomplete(status, batchId, upload.Stored.Value, scan.Rows, keyed));
        }
        catch (Exception)
        {
            // The client went away: nobody reads an answer, but the batch must not wait for rows that will not come.
            await AbortAsync(upload, loggers);
            throw;
        }
    }

    private static async Task AbortAsync(Upload upload, ILoggerFactory loggers)
    {
        try
        {
            await upload.Retry.RunAsync(upload.Grain.AbortAsync, ClusterFailures.SiloOrDatabase, CancellationToken.None);
        }
        catch (Exception e)
        {
            // The batch then stops waiting for the rest by itself, after Batch:UploadTimeout without a slice.
            LogAbortFailed(loggers, upload.BatchId, e);
        }
    }

    /// <summary>
    /// Parses the whole file without storing anything: its data rows and fingerprint (the CSV's SHA-256), or why it
    /// cannot be imported.
    /// </summary>
    /// <param name="rowLimit">The most data rows, and whether that is the tenant's quota.</param>
    private static async Task<(int Rows, byte[]? Fingerprint, Microsoft.AspNetCore.Mvc.ProblemDetails? Problem)> ScanAsync(
        HttpRequest request, (int Rows, bool Quota) rowLimit, CancellationToken cancellationToken)
    {
        try
        {
            var body = await OpenCsvAsync(request, cancellationToken);
            if (body.Problem is not null)
            {
                return (0, null, body.Problem);
            }

            await using var hashed = new HashingReadStream(body.Csv!);
            var (rows, problem) = await CheckAsync(PipeReader.Create(hashed, new StreamPipeReaderOptions(leaveOpen: true)), rowLimit, cancellationToken);
            return (rows, problem is null ? hashed.Hash() : null, problem);
        }
        catch (Exception e) when (e is InvalidDataException or IOException && e is not BadHttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            // The multipart reader's own errors: a part cut short, a boundary never closed, a header line too long.
            return (0, null, ApiProblems.MalformedMultipart($"The multipart body could not be read: {e.Message}"));
        }
    }

    private static async Task<(int Rows, Microsoft.AspNetCore.Mvc.ProblemDetails? Problem)> CheckAsync(
        PipeReader csv, (int Rows, bool Quota) rowLimit, CancellationToken cancellationToken)
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
                if (rows == rowLimit.Rows)
                {
                    return (rows, ApiProblems.TooManyRows(rowLimit.Rows, rowLimit.Quota));
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

    private static void LogUploadFailed(ILoggerFactory loggers, string batchId, int stored, int total, Exception exception) =>
        UploadFailed(loggers.CreateLogger(typeof(ImportEndpoints)), batchId, stored, total, exception);

    private static void LogAbortFailed(ILoggerFactory loggers, string batchId, Exception exception) =>
        AbortFailed(loggers.CreateLogger(typeof(ImportEndpoints)), batchId, exception);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Warning, Message = "The import into batch {BatchId} stopped after {Stored} of {Total} rows")]
    private static partial void UploadFailed(ILogger logger, string batchId, int stored, int total, Exception exception);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Warning, Message = "The failed import into batch {BatchId} could not be marked stopped; the batch stops waiting by itself")]
    private static partial void AbortFailed(ILogger logger, string batchId, Exception exception);

    /// <summary>
    /// Hands the checked file to the batch a slice at a time from row <c>from</c>, parsing the next slice while the
    /// previous one is stored. The batch is sealed at its known size after the first slice, so its run starts while the
    /// rest is stored; sealing again (a resumed upload) changes nothing.
    /// </summary>
    private sealed class Upload(IBatchGrain grain, string batchId, int total, int? concurrency, int sliceSize, GrainRetry retry)
    {
        public IBatchGrain Grain => grain;

        public string BatchId => batchId;

        public GrainRetry Retry => retry;

        /// <summary>Rows the batch holds as of the last slice it took; null until it is sealed (an abort would discard it).</summary>
        public int? Stored { get; private set; }

        public async Task<BatchProgress> RunAsync(PipeReader body, int from, CancellationToken cancellationToken)
        {
            await using var reader = new CsvRecordReader(body);
            Task<BatchProgress>? stored = null;
            Stored = from > 0 ? from : null;
            try
            {
                await reader.SkipAsync(cancellationToken);
                var rows = 0;
                while (rows < from && await reader.SkipAsync(cancellationToken))
                {
                    rows++;
                }

                if (from >= total)
                {
                    // Every row was stored before the batch was sealed: only the seal is missing.
                    var whole = await retry.RunAsync(attempt => grain.SealAsync(total, concurrency, attempt), ClusterFailures.SiloOrDatabase, cancellationToken);
                    Took(whole);
                    return whole;
                }

                // The run starts once the first slice is stored, so that one is small: the batch is busy sooner.
                var limit = Math.Min(sliceSize, FirstSliceSize);
                var slice = new List<BatchItem>(limit);
                while (rows < total && await reader.ReadAsync(cancellationToken) is { } record)
                {
                    rows++;
                    slice.Add(UserImport.ToItem(batchId, rows, record));
                    if (slice.Count < limit && rows < total)
                    {
                        continue;
                    }

                    if (stored is not null)
                    {
                        Took(await stored);
                    }

                    stored = AppendAndSealAsync(rows - slice.Count, slice, stored is null ? (total, concurrency) : null, cancellationToken);
                    limit = sliceSize;
                    slice = new List<BatchItem>(limit);
                }

                if (rows != total || stored is null)
                {
                    throw new InvalidOperationException($"The file held {total} rows on its first read and {rows} on its second.");
                }

                var last = await stored;
                Took(last);
                return last;
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

        /// <summary>Notes what the batch holds; throws when it no longer takes rows (cancelled, or its upload stopped) before holding them all.</summary>
        private void Took(BatchProgress progress)
        {
            Stored = progress.Stored;
            if (progress.UploadStopped || progress.IsTerminal && progress.Stored < total)
            {
                throw new UploadStoppedException(progress);
            }
        }

        private async Task<BatchProgress> AppendAndSealAsync(
            int firstSeq, List<BatchItem> slice, (int Total, int? Concurrency)? seal, CancellationToken cancellationToken)
        {
            // A slice is stored whole at its position, and stored again harmlessly: it is sent again while its silo dies
            // or the database blinks, within the failover time.
            var encoded = BatchItemSlice.Of(slice) with { SourceFields = UserImport.Columns };
            var progress = await retry.RunAsync(attempt => grain.AppendAsync(firstSeq, encoded, attempt), ClusterFailures.SiloOrDatabase, cancellationToken);
            if (seal is { } at)
            {
                progress = await retry.RunAsync(attempt => grain.SealAsync(at.Total, at.Concurrency, attempt), ClusterFailures.SiloOrDatabase, cancellationToken);
                Stored = progress.Stored;
            }

            return progress;
        }
    }
}
