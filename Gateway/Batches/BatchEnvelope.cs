using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Gateway.Http;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;

namespace Orleans.Batch.Gateway.Batches;

/// <summary>
/// Reads and checks the <c>POST /batch</c> envelope. Any problem here rejects the whole batch before anything runs;
/// what is wrong with one operation's target or body is that operation's own result instead.
/// </summary>
internal static class BatchEnvelope
{
    private const int MaxListedErrors = 50;

    private static readonly string[] BatchFields = ["operations", "concurrency", "mode"];

    private static readonly string[] OperationFields = ["id", "method", "path", "headers", "idempotencyKey", "body"];

    public static ProblemDetails? TryRead(JsonElement root, BatchApiOptions limits, string batchId, out BatchRequest? request)
    {
        request = null;
        // Text that cannot be stored is refused first, wherever it is: System.Text.Json throws on an escaped lone
        // surrogate when a name or string holding one is compared or read, so nothing below meets one.
        var unstorable = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (!JsonText.Check(root, "", unstorable))
        {
            return ApiProblems.Invalid(unstorable, "Nothing was executed; see 'errors'.");
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            return Invalid("$", $"The body must be a JSON object with an 'operations' array, not {Kind(root)}.");
        }

        if (!root.TryGetProperty("operations", out var operations) || operations.ValueKind == JsonValueKind.Null)
        {
            return Invalid("operations", "Is required: an array of operations.");
        }

        if (operations.ValueKind != JsonValueKind.Array)
        {
            return Invalid("operations", $"Must be an array, not {Kind(operations)}.");
        }

        var count = operations.GetArrayLength();
        if (count == 0)
        {
            return Invalid("operations", "Must contain at least one operation.");
        }

        if (count > limits.MaxOperations)
        {
            return ApiProblems.TooManyOperations(limits.MaxOperations, count);
        }

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        RefuseUnknown(root, "", BatchFields, "a batch", errors);
        int? concurrency = null;
        if (root.TryGetProperty("concurrency", out var c) && c.ValueKind != JsonValueKind.Null)
        {
            if (c.ValueKind == JsonValueKind.Number && c.TryGetInt32(out var value) && value >= 1)
            {
                concurrency = value;
            }
            else
            {
                errors["concurrency"] = ["Must be a whole number of at least 1."];
            }
        }

        var mode = BatchMode.Auto;
        if (root.TryGetProperty("mode", out var m) && m.ValueKind != JsonValueKind.Null
            && (m.ValueKind != JsonValueKind.String || !Enum.TryParse(m.GetString(), ignoreCase: true, out mode) || !Enum.IsDefined(mode)
                || int.TryParse(m.GetString(), out _)))
        {
            errors["mode"] = ["Must be one of auto, sync, async."];
        }

        var list = new List<OperationRequest>(count);
        var ids = new List<string>(count);
        var operationErrors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var index = 0;
        foreach (var element in operations.EnumerateArray())
        {
            if (ReadOperation(element, $"operations[{index}]", limits, batchId, ids, operationErrors) is { } operation)
            {
                list.Add(operation);
            }

            index++;
        }

        // Ids are compared even on otherwise invalid operations, and the batch-wide error goes before the
        // per-operation ones so it is never cut from a long list.
        var duplicates = ids.GroupBy(id => id, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (duplicates.Count > 0)
        {
            errors["operations"] = [$"Operation ids must be unique; repeated: {string.Join(", ", duplicates.Take(MaxListedErrors))}."];
        }

        foreach (var (key, messages) in operationErrors)
        {
            errors[key] = messages;
        }

        if (errors.Count > 0)
        {
            var listed = errors.Take(MaxListedErrors).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
            var problem = ApiProblems.Invalid(listed, errors.Count > MaxListedErrors
                ? $"{errors.Count} fields are invalid; the first {MaxListedErrors} are listed. Nothing was executed."
                : "Nothing was executed; see 'errors'.");
            if (duplicates.Count > 0)
            {
                problem.Extensions["duplicateIds"] = duplicates;
            }

            return problem;
        }

        request = new BatchRequest(list, concurrency, mode);
        return null;
    }

    private static OperationRequest? ReadOperation(
        JsonElement element, string at, BatchApiOptions limits, string batchId, List<string> ids, Dictionary<string, string[]> errors)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors[at] = [$"Must be an object with id, method and path, not {Kind(element)}."];
            return null;
        }

        RefuseUnknown(element, $"{at}.", OperationFields, "an operation", errors);
        var id = RequiredString(element, "id", at, limits.MaxOperationIdLength, errors);
        if (id is not null)
        {
            ids.Add(id);
        }

        var method = RequiredString(element, "method", at, 16, errors);
        var path = RequiredString(element, "path", at, 2048, errors);
        if (path is not null && !path.StartsWith('/'))
        {
            errors[$"{at}.path"] = ["Must start with '/', e.g. /users/42."];
            path = null;
        }

        if (method is not null && !method.All(char.IsAsciiLetter))
        {
            errors[$"{at}.method"] = ["Must be an HTTP method name such as GET, POST, PUT, PATCH or DELETE."];
            method = null;
        }

        var headers = ReadHeaders(element, at, errors);
        var idempotencyKey = OptionalString(element, "idempotencyKey", at, limits.MaxIdempotencyKeyLength, errors, out var keyValid);
        string? body = element.TryGetProperty("body", out var b) && b.ValueKind != JsonValueKind.Null ? b.GetRawText() : null;
        return id is null || method is null || path is null || headers is null || !keyValid
            ? null
            : new OperationRequest(id, method.ToUpperInvariant(), path, body, headers.Count == 0 ? null : headers, batchId, idempotencyKey);
    }

    private static Dictionary<string, string>? ReadHeaders(JsonElement element, string at, Dictionary<string, string[]> errors)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (!element.TryGetProperty("headers", out var h) || h.ValueKind == JsonValueKind.Null)
        {
            return headers;
        }

        if (h.ValueKind != JsonValueKind.Object)
        {
            errors[$"{at}.headers"] = ["Must be an object of header names to string values."];
            return null;
        }

        foreach (var header in h.EnumerateObject())
        {
            if (header.Value.ValueKind != JsonValueKind.String)
            {
                errors[$"{at}.headers.{header.Name}"] = ["Must be a string."];
                return null;
            }

            headers[header.Name] = header.Value.GetString()!;
        }

        return headers;
    }

    private static string? RequiredString(JsonElement element, string name, string at, int maxLength, Dictionary<string, string[]> errors)
    {
        var key = $"{at}.{name}";
        if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            errors[key] = ["Is required."];
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            errors[key] = ["Must be a non-empty string."];
            return null;
        }

        if (value.GetString() is not { Length: > 0 } text)
        {
            errors[key] = ["Must be a non-empty string."];
            return null;
        }

        if (text.Length > maxLength)
        {
            errors[key] = [$"Must be at most {maxLength} characters; got {text.Length}."];
            return null;
        }

        return text;
    }

    private static string? OptionalString(
        JsonElement element, string name, string at, int maxLength, Dictionary<string, string[]> errors, out bool valid)
    {
        valid = true;
        if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        valid = false;
        if (value.ValueKind != JsonValueKind.String)
        {
            errors[$"{at}.{name}"] = ["Must be a non-empty string."];
            return null;
        }

        if (value.GetString() is not { Length: > 0 } text)
        {
            errors[$"{at}.{name}"] = ["Must be a non-empty string."];
            return null;
        }

        if (text.Length > maxLength)
        {
            errors[$"{at}.{name}"] = [$"Must be at most {maxLength} characters; got {text.Length}."];
            return null;
        }

        valid = true;
        return text;
    }

    /// <summary>An error for each property of <paramref name="element"/> that is not one of <paramref name="known"/> (names are case-sensitive).</summary>
    private static void RefuseUnknown(JsonElement element, string at, string[] known, string what, Dictionary<string, string[]> errors)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (!known.Contains(property.Name, StringComparer.Ordinal))
            {
                errors[at + property.Name] = [$"Is not a field of {what}; the fields are {string.Join(", ", known)}."];
            }
        }
    }

    private static HttpValidationProblemDetails Invalid(string field, string message) =>
        ApiProblems.Invalid(new Dictionary<string, string[]> { [field] = [message] }, "Nothing was executed; see 'errors'.");

    private static string Kind(JsonElement element) => element.ValueKind.ToString().ToLowerInvariant();
}
