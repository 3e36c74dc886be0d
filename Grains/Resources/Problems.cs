using System.Text.Json.Serialization;

namespace Orleans.Batch.Grains.Resources;

/// <summary>RFC 9457 problem details, as every failed operation answers them.</summary>
public sealed record Problem(
    string Type,
    string Title,
    int Status,
    string? Detail = null,
    IReadOnlyDictionary<string, string[]>? Errors = null,
    [property: JsonPropertyName("allowed")] IReadOnlyList<string>? Allowed = null);

public static class Problems
{
    public const string TypePrefix = "urn:orleans-batch:problem:";

    public static ResourceResponse Validation(IReadOnlyDictionary<string, string[]> errors) =>
        Respond(new Problem(TypePrefix + "validation", "One or more fields are invalid.", 400,
            "See 'errors' for each invalid field.", errors));

    public static ResourceResponse MalformedBody(string detail) =>
        Respond(new Problem(TypePrefix + "malformed-body", "The request body is not valid.", 400, detail));

    public static ResourceResponse NotFound(string detail) =>
        Respond(new Problem(TypePrefix + "not-found", "Not Found", 404, detail));

    public static ResourceResponse MethodNotAllowed(string method, string path, IReadOnlyList<string> allowed) =>
        Respond(new Problem(TypePrefix + "method-not-allowed", "Method Not Allowed", 405,
            $"{method} is not supported on {path}.", Allowed: allowed));

    public static ResourceResponse Conflict(string field, string detail) =>
        Respond(new Problem(TypePrefix + "conflict", "Conflict", 409, detail,
            new Dictionary<string, string[]> { [field] = [detail] }));

    public static ResourceResponse MissingReference(string field, string detail) =>
        Respond(new Problem(TypePrefix + "missing-reference", "A referenced resource does not exist.", 422, detail,
            new Dictionary<string, string[]> { [field] = [detail] }));

    public static ResourceResponse KeyInFlight(string key) =>
        Respond(new Problem(TypePrefix + "idempotency-key-in-flight", "Conflict", 409,
            $"An operation with idempotency key '{key}' is still running; retry once it has finished."));

    public static ResourceResponse KeyReused(string key) =>
        Respond(new Problem(TypePrefix + "idempotency-key-reused", "Idempotency key reused", 422,
            $"Idempotency key '{key}' was already used with another method, path or body."));

    public static ResourceResponse Cancelled() =>
        Respond(new Problem(TypePrefix + "cancelled", "Cancelled", CancelledStatus,
            "The batch was cancelled before this operation started; it was not applied."));

    /// <summary>The status of an item that never ran because its batch was cancelled (as nginx's "client closed request").</summary>
    public const int CancelledStatus = 499;

    public static ResourceResponse Unavailable(string detail) =>
        Respond(new Problem(TypePrefix + "unavailable", "Service Unavailable", 503, detail));

    public static ResourceResponse Internal(string detail) =>
        Respond(new Problem(TypePrefix + "internal", "Internal Server Error", 500, detail));

    private static ResourceResponse Respond(Problem problem) => new(problem.Status, ResourceJson.Serialize(problem));
}
