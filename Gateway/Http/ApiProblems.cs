using Microsoft.AspNetCore.Mvc;

namespace Orleans.Batch.Gateway.Http;

/// <summary>The gateway's own RFC 9457 problems; operation problems come from the silos in the same shape.</summary>
internal static class ApiProblems
{
    private const string TypePrefix = "urn:orleans-batch:problem:";

    public static ProblemDetails BodyTooLarge(long limit) => Create(413, "body-too-large", "Request body too large",
        $"The request body is larger than the limit of {limit} bytes.", new() { ["limit"] = limit });

    public static ProblemDetails TooManyOperations(int limit, int received) => Create(413, "too-many-operations", "Too many operations",
        $"The batch has {received} operations; at most {limit} are accepted in one batch.",
        new() { ["limit"] = limit, ["received"] = received, ["hint"] = $"Split the operations into batches of at most {limit}." });

    public static ProblemDetails MalformedJson(string detail) => Create(400, "malformed-json", "The request body is not valid JSON", detail);

    public static ProblemDetails UnsupportedMediaType(string? contentType, string expected) => Create(415, "unsupported-media-type", "Unsupported media type",
        $"The body must be {expected}; got '{contentType}'.");

    public static ProblemDetails InvalidIdempotencyKey(int maxLength) => Create(400, "invalid-idempotency-key", "Invalid Idempotency-Key",
        $"The Idempotency-Key header must be one value of 1 to {maxLength} characters.", new() { ["limit"] = maxLength });

    public static ProblemDetails SubmissionKeyReused() => Create(422, "idempotency-key-reused", "Idempotency key reused",
        "This Idempotency-Key was already used for a different request; use a new key for a new batch.");

    public static ProblemDetails SyncTimeout(string batchId, TimeSpan timeout) => Create(408, "sync-timeout", "The batch did not finish in time",
        $"The batch did not finish within {timeout.TotalSeconds:0.#} s; it carries on. Follow statusUrl for its progress.",
        new() { ["batchId"] = batchId, ["statusUrl"] = $"/batch/{batchId}/status", ["resultsUrl"] = $"/batch/{batchId}/results" });

    public static ProblemDetails InvalidCsv(long line, string detail) => Create(400, "invalid-csv", "The file is not a valid users CSV",
        detail + " Nothing was imported.", new() { ["line"] = line });

    public static ProblemDetails TooManyRows(int limit) => Create(413, "too-many-rows", "Too many rows",
        $"The file has more than {limit} data rows. Nothing was imported.",
        new() { ["limit"] = limit, ["hint"] = $"Split the file into files of at most {limit} rows." });

    public static ProblemDetails BatchConflict(string batchId, string detail) => Create(409, "batch-conflict", "Conflict",
        detail, new() { ["batchId"] = batchId });

    public static ProblemDetails UploadInProgress(string batchId, string detail) => Create(409, "upload-in-progress", "The upload is still running",
        detail, new() { ["batchId"] = batchId });

    public static ProblemDetails CancelledWhileUploading(string batchId, int stored, int rows) => BatchConflict(batchId,
        $"Batch {batchId} was cancelled while its file was uploading: it holds {stored} of the file's {rows} rows and takes no more. Import the file under a new Idempotency-Key.");

    /// <summary>
    /// An import whose upload failed part way: batch <paramref name="batchId"/> runs only the rows it holds. With a key,
    /// the same request completes it; without one it cannot be resumed.
    /// </summary>
    public static ProblemDetails UploadIncomplete(int status, string batchId, int stored, int total, bool keyed)
    {
        var next = keyed
            ? " Send the same file again with the same Idempotency-Key to import the rest."
            : $" This import had no Idempotency-Key, so it cannot be resumed: GET /batch/{batchId}/results shows which rows ran; send the others as a new file, with an Idempotency-Key.";
        var title = status == StatusCodes.Status503ServiceUnavailable ? "Service Unavailable" : "The upload did not finish";
        return Create(status, "upload-incomplete", title,
            $"The upload stopped after {stored} of {total} rows; batch {batchId} runs only those and then ends failed." + next,
            new() { ["batchId"] = batchId, ["stored"] = stored, ["total"] = total, ["statusUrl"] = $"/batch/{batchId}/status" });
    }

    public static HttpValidationProblemDetails Invalid(IDictionary<string, string[]> errors, string detail) => new(errors)
    {
        Type = TypePrefix + "validation",
        Title = "The batch request is invalid.",
        Status = StatusCodes.Status400BadRequest,
        Detail = detail,
    };

    public static ProblemDetails BatchNotFound(string batchId) => Create(404, "batch-not-found", "Batch not found",
        $"No batch has the id '{batchId}'.", new() { ["batchId"] = batchId });

    public static ProblemDetails ClusterUnavailable() => Create(503, "cluster-unavailable", "Service Unavailable",
        "No silo of the cluster could be reached; retry later.");

    public static ProblemDetails DatabaseUnavailable() => Create(503, "database-unavailable", "Service Unavailable",
        "The database could not be reached; nothing of this request was committed. Retry later.");

    private static ProblemDetails Create(int status, string type, string title, string detail, Dictionary<string, object?>? extensions = null)
    {
        var problem = new ProblemDetails { Type = TypePrefix + type, Title = title, Status = status, Detail = detail };
        foreach (var (key, value) in extensions ?? [])
        {
            problem.Extensions[key] = value;
        }

        return problem;
    }
}
