using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;

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

    public static ProblemDetails InvalidIdempotencyKey(int maxLength, string? textProblem = null) => Create(400, "invalid-idempotency-key", "Invalid Idempotency-Key",
        textProblem is null
            ? $"The Idempotency-Key header must be one value of 1 to {maxLength} characters."
            : $"The Idempotency-Key header: {textProblem} Nothing was claimed.",
        new() { ["limit"] = maxLength, ["field"] = Batches.Submissions.Header });

    public static ProblemDetails MalformedMultipart(string detail) => Create(400, "malformed-multipart", "The multipart body is malformed",
        detail + " Nothing was imported.");

    public static ProblemDetails SubmissionKeyReused() => Create(422, "idempotency-key-reused", "Idempotency key reused",
        "This Idempotency-Key was already used for a different request; use a new key for a new batch.");

    public static ProblemDetails SyncTimeout(string batchId, TimeSpan timeout) => Create(408, "sync-timeout", "The batch did not finish in time",
        $"The batch did not finish within {timeout.TotalSeconds:0.#} s; it carries on. Follow statusUrl for its progress.",
        new() { ["batchId"] = batchId, ["statusUrl"] = $"/batch/{batchId}/status", ["resultsUrl"] = $"/batch/{batchId}/results" });

    public static ProblemDetails InvalidCsv(long line, string detail) => Create(400, "invalid-csv", "The file is not a valid users CSV",
        detail + " Nothing was imported.", new() { ["line"] = line });

    /// <param name="quota">The limit is the tenant's <c>importRows</c> quota, below the service's own.</param>
    public static ProblemDetails TooManyRows(int limit, bool quota = false) => Create(413, "too-many-rows", "Too many rows",
        $"The file has more than {limit} data rows{(quota ? ", the tenant's importRows quota" : "")}. Nothing was imported.",
        quota
            ? new() { ["limit"] = limit, ["quota"] = "importRows", ["hint"] = $"Split the file into files of at most {limit} rows." }
            : new() { ["limit"] = limit, ["hint"] = $"Split the file into files of at most {limit} rows." });

    public static ProblemDetails QuotaExceeded(string quota, long limit, string detail) => Create(429, "quota-exceeded", "Too Many Requests",
        detail, new() { ["quota"] = quota, ["limit"] = limit });

    public static ProblemDetails BatchGone(string batchId) => Create(410, "batch-gone", "Batch deleted",
        $"Batch '{batchId}' ended and was deleted after its retention, with its items and results.", new() { ["batchId"] = batchId });

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

    public static HttpValidationProblemDetails Invalid(IDictionary<string, string[]> errors, string detail, string title = "The batch request is invalid.") => new(errors)
    {
        Type = TypePrefix + "validation",
        Title = title,
        Status = StatusCodes.Status400BadRequest,
        Detail = detail,
    };

    public static ProblemDetails BatchNotFound(string batchId) => Create(404, "batch-not-found", "Batch not found",
        $"No batch has the id '{batchId}'.", new() { ["batchId"] = batchId });

    /// <summary>A request the web server refused (a malformed request line or header, a body cut short, a missing length).</summary>
    public static ProblemDetails BadRequest(int status, string detail) => Create(status, "bad-request", ReasonPhrases.GetReasonPhrase(status), detail);

    /// <summary>A failure of the service's own: the body names no exception, only the silo's log reference when there is one.</summary>
    public static ProblemDetails ServerError(string? reference) => Create(500, "server-error", "Internal Server Error",
        "The service failed to handle the request; nothing says it was applied. Retry it, with the same Idempotency-Key if it had one.",
        reference is null ? null : new() { ["reference"] = reference });

    /// <summary>The problem for a status the web server or routing set with no body (an unrouted path, a wrong method).</summary>
    public static ProblemDetails ForStatus(int status, string method, string path) => status switch
    {
        404 => Create(404, "not-found", "Not Found", $"Nothing is at '{path}'; see the README for the routes."),
        405 => Create(405, "method-not-allowed", "Method Not Allowed", $"'{path}' does not take {method}; the Allow header lists what it takes."),
        _ => Create(status, "http-" + status, ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Error",
            $"The request was answered {status}."),
    };

    public static ProblemDetails TargetTooLong(int limit, int received) => Create(414, "uri-too-long", "URI Too Long",
        $"The path and query are {received} characters; at most {limit} are accepted. Send long input in a body.",
        new() { ["limit"] = limit, ["received"] = received });

    public static ProblemDetails HeadersTooLarge(int maxCount, int maxBytes) => Create(431, "headers-too-large", "Request Header Fields Too Large",
        $"The request has more than {maxCount} header fields or more than {maxBytes} bytes of them.",
        new() { ["limit"] = maxBytes, ["maxCount"] = maxCount });

    /// <summary>No credential, or one that is malformed, unknown, revoked or expired.</summary>
    public static ProblemDetails Unauthorized(string detail) => Create(401, "unauthorized", "Unauthorized", detail);

    /// <summary>A valid credential whose role does not allow the request.</summary>
    public static ProblemDetails Forbidden(string detail) => Create(403, "forbidden", "Forbidden", detail);

    public static ProblemDetails TenantExists(string tenant) => Create(409, "tenant-exists", "Conflict",
        $"A tenant with the id '{tenant}' exists already.", new() { ["tenant"] = tenant });

    public static ProblemDetails TenantNotFound(string tenant) => Create(404, "tenant-not-found", "Tenant not found",
        $"No tenant has the id '{tenant}'.", new() { ["tenant"] = tenant });

    public static ProblemDetails KeyNotFound(string keyId) => Create(404, "key-not-found", "API key not found",
        $"No API key has the id '{keyId}'.", new() { ["keyId"] = keyId });

    public static ProblemDetails ClusterUnavailable() => Create(503, "cluster-unavailable", "Service Unavailable",
        "No silo of the cluster could be reached; retry later.");

    public static ProblemDetails DatabaseUnavailable() => Create(503, "database-unavailable", "Service Unavailable",
        "The database could not be reached; nothing of this request was committed. Retry later.");

    /// <summary>A tenant over its requests per second and burst: nothing of the request was done.</summary>
    public static ProblemDetails RateLimited(string tenant, int retryAfterSeconds, double rate, int burst) => Create(429, "rate-limited", "Too Many Requests",
        $"Tenant '{tenant}' sent more requests than its rate of {rate:0.###} per second with a burst of {burst} allows here; nothing of this request was done. Retry after {retryAfterSeconds} s.",
        new() { ["tenant"] = tenant, ["retryAfter"] = retryAfterSeconds });

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
