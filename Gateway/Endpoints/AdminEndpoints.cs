using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Orleans.Batch.Gateway.Http;
using Orleans.Batch.Gateway.Security;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Gateway.Endpoints;

/// <summary>
/// The operator's API (role admin): tenants, their keys and quotas. It reads no tenant's data. A key's text is answered
/// once, when it is created; listings show key ids and roles only.
/// </summary>
public static class AdminEndpoints
{
    private const int MaxNameLength = 200;
    private const int MaxBodyBytes = 64 * 1024;

    private static readonly string[] QuotaFields =
    [
        "requestsPerSecond", "burst", "activeBatches", "inFlightOperations", "importRows", "weight", "retention", "idempotencyRetention",
    ];

    public static IEndpointRouteBuilder MapAdminEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/admin").WithTags("Admin").RequireAuthorization(SecurityPolicies.Admin);
        group.MapPost("/tenants", CreateTenantAsync);
        group.MapGet("/tenants", ListTenantsAsync);
        group.MapPost("/tenants/{id}/keys", CreateKeyAsync);
        group.MapGet("/tenants/{id}/keys", ListKeysAsync);
        group.MapGet("/tenants/{id}/quotas", GetQuotasAsync);
        group.MapPut("/tenants/{id}/quotas", SetQuotasAsync);
        group.MapPost("/keys", CreateAdminKeyAsync);
        group.MapDelete("/keys/{keyId}", RevokeKeyAsync);
        return app;
    }

    internal static async Task<Results<Created<TenantInfo>, ProblemHttpResult>> CreateTenantAsync(
        HttpRequest request, IClusterClient cluster, CancellationToken cancellationToken)
    {
        var (body, problem) = await ReadObjectAsync(request, ["id", "name"], cancellationToken);
        if (problem is not null)
        {
            return TypedResults.Problem(problem);
        }

        var id = body.TryGetProperty("id", out var idValue) && idValue.ValueKind == JsonValueKind.String ? idValue.GetString() : null;
        if (!TenantContext.IsValidId(id))
        {
            return Invalid("id", "Is required: 1 to 40 lower-case letters, digits and inner hyphens (e.g. \"acme-2\").");
        }

        var name = id!;
        if (body.TryGetProperty("name", out var nameValue))
        {
            if (nameValue.ValueKind != JsonValueKind.String || nameValue.GetString()!.Length is 0 or > MaxNameLength)
            {
                return Invalid("name", $"Must be a string of 1 to {MaxNameLength} characters (it defaults to the id).");
            }

            name = nameValue.GetString()!;
        }

        return await cluster.GetGrain<ITenantGrain>(id!).CreateAsync(name, cancellationToken) is { } tenant
            ? TypedResults.Created($"/admin/tenants/{tenant.Id}", tenant)
            : TypedResults.Problem(ApiProblems.TenantExists(id!));
    }

    internal static async Task<Ok<IReadOnlyList<TenantInfo>>> ListTenantsAsync(IClusterClient cluster, CancellationToken cancellationToken) =>
        TypedResults.Ok(await cluster.GetGrain<ITenantAdminGrain>(0).ListTenantsAsync(cancellationToken));

    internal static async Task<Results<Created<CreatedKeyResponse>, ProblemHttpResult>> CreateKeyAsync(
        string id, HttpRequest request, IClusterClient cluster, CancellationToken cancellationToken)
    {
        var (body, problem) = await ReadObjectAsync(request, ["role"], cancellationToken);
        if (problem is not null)
        {
            return TypedResults.Problem(problem);
        }

        if (!body.TryGetProperty("role", out var role) || !ApiRoles.IsTenantRole(role.ValueKind == JsonValueKind.String ? role.GetString() : null))
        {
            return Invalid("role", $"Must be \"{ApiRoles.Reader}\" or \"{ApiRoles.Writer}\" (operator keys: POST /admin/keys).");
        }

        if (!TenantContext.IsValidId(id))
        {
            return TypedResults.Problem(ApiProblems.TenantNotFound(id));
        }

        return await cluster.GetGrain<ITenantAdminGrain>(0).CreateKeyAsync(id, role.GetString()!, cancellationToken) is { } key
            ? TypedResults.Created($"/admin/tenants/{id}/keys", CreatedKeyResponse.From(key))
            : TypedResults.Problem(ApiProblems.TenantNotFound(id));
    }

    /// <summary>A new operator (admin) key, e.g. to replace one about to be revoked.</summary>
    internal static async Task<Results<Created<CreatedKeyResponse>, ProblemHttpResult>> CreateAdminKeyAsync(
        HttpRequest request, IClusterClient cluster, CancellationToken cancellationToken)
    {
        var (body, problem) = await ReadObjectAsync(request, ["role"], cancellationToken);
        if (problem is not null)
        {
            return TypedResults.Problem(problem);
        }

        if (!body.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String || role.GetString() != ApiRoles.Admin)
        {
            return Invalid("role", $"Must be \"{ApiRoles.Admin}\" (a tenant's keys: POST /admin/tenants/{{id}}/keys).");
        }

        var key = await cluster.GetGrain<ITenantAdminGrain>(0).CreateKeyAsync(null, ApiRoles.Admin, cancellationToken);
        return TypedResults.Created("/admin/keys", CreatedKeyResponse.From(key!));
    }

    internal static async Task<Results<Ok<IReadOnlyList<ApiKeyInfo>>, ProblemHttpResult>> ListKeysAsync(
        string id, IClusterClient cluster, CancellationToken cancellationToken) =>
        TenantContext.IsValidId(id) && await cluster.GetGrain<ITenantAdminGrain>(0).ListKeysAsync(id, cancellationToken) is { } keys
            ? TypedResults.Ok(keys)
            : TypedResults.Problem(ApiProblems.TenantNotFound(id));

    internal static async Task<Results<NoContent, ProblemHttpResult>> RevokeKeyAsync(
        string keyId, IClusterClient cluster, CancellationToken cancellationToken) =>
        ApiKeys.IsKeyId(keyId) && await cluster.GetGrain<IApiKeyGrain>(keyId).RevokeAsync(cancellationToken)
            ? TypedResults.NoContent()
            : TypedResults.Problem(ApiProblems.KeyNotFound(keyId));

    internal static async Task<Results<Ok<QuotasResponse>, ProblemHttpResult>> GetQuotasAsync(
        string id, IClusterClient cluster, CancellationToken cancellationToken) =>
        TenantContext.IsValidId(id) && await cluster.GetGrain<ITenantGrain>(id).GetQuotaSettingsAsync(cancellationToken) is { } settings
            ? TypedResults.Ok(QuotasResponse.From(id, settings))
            : TypedResults.Problem(ApiProblems.TenantNotFound(id));

    /// <summary>
    /// Replaces the tenant's overrides (PUT): a field that is absent or null takes the configured default again; the
    /// answer is the effective quotas.
    /// </summary>
    internal static async Task<Results<Ok<QuotasResponse>, ProblemHttpResult>> SetQuotasAsync(
        string id, HttpRequest request, IClusterClient cluster, CancellationToken cancellationToken)
    {
        var (body, problem) = await ReadObjectAsync(request, QuotaFields, cancellationToken);
        if (problem is not null)
        {
            return TypedResults.Problem(problem);
        }

        var errors = new Dictionary<string, string[]>();
        var overrides = new TenantQuotaOverrides(
            Number(body, "requestsPerSecond", errors),
            Integer(body, "burst", errors),
            Integer(body, "activeBatches", errors),
            Integer(body, "inFlightOperations", errors),
            Integer(body, "importRows", errors),
            Integer(body, "weight", errors),
            Duration(body, "retention", errors),
            Duration(body, "idempotencyRetention", errors));
        foreach (var (field, fieldProblem) in overrides.Problems())
        {
            errors[JsonNamingPolicy.CamelCase.ConvertName(field)] = [$"Must be empty (the default) or a value that {fieldProblem}."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.Problem(ApiProblems.Invalid(errors, "The quotas are invalid; nothing was changed.", "The quotas are invalid."));
        }

        return TenantContext.IsValidId(id) && await cluster.GetGrain<ITenantGrain>(id).SetQuotasAsync(overrides, cancellationToken) is { } settings
            ? TypedResults.Ok(QuotasResponse.From(id, settings))
            : TypedResults.Problem(ApiProblems.TenantNotFound(id));
    }

    private static ProblemHttpResult Invalid(string field, string message) => TypedResults.Problem(ApiProblems.Invalid(
        new Dictionary<string, string[]> { [field] = [message] }, $"The field '{field}' is invalid; nothing was changed.", "The request is invalid."));

    /// <summary>A JSON object body with only <paramref name="fields"/>; an empty body reads as <c>{}</c>.</summary>
    private static async Task<(JsonElement Body, ProblemDetails? Problem)> ReadObjectAsync(
        HttpRequest request, string[] fields, CancellationToken cancellationToken)
    {
        if (request.ContentLength is > MaxBodyBytes)
        {
            return (default, ApiProblems.BodyTooLarge(MaxBodyBytes));
        }

        if (request.ContentLength is > 0 && !BatchEndpoints.IsJson(request.ContentType))
        {
            return (default, ApiProblems.UnsupportedMediaType(request.ContentType, "application/json"));
        }

        using var bytes = new MemoryStream();
        await request.Body.CopyToAsync(bytes, cancellationToken);
        if (bytes.Length > MaxBodyBytes)
        {
            return (default, ApiProblems.BodyTooLarge(MaxBodyBytes));
        }

        JsonElement body;
        try
        {
            using var document = JsonDocument.Parse(bytes.Length == 0 ? "{}"u8.ToArray() : bytes.ToArray());
            body = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return (default, ApiProblems.MalformedJson($"The body is not valid JSON: {e.Message}"));
        }

        if (body.ValueKind != JsonValueKind.Object)
        {
            return (default, ApiProblems.Invalid(new Dictionary<string, string[]> { ["$"] = ["Must be a JSON object."] },
                "The body must be a JSON object.", "The request is invalid."));
        }

        var errors = new Dictionary<string, string[]>();
        if (!JsonText.Check(body, "", errors))
        {
            return (default, ApiProblems.Invalid(errors, "The body holds text that cannot be stored.", "The request is invalid."));
        }

        foreach (var property in body.EnumerateObject().Where(p => !fields.Contains(p.Name, StringComparer.Ordinal)))
        {
            errors[property.Name] = [$"Is not a field of this request; the fields are {string.Join(", ", fields)}."];
        }

        return errors.Count > 0
            ? (default, ApiProblems.Invalid(errors, "The body has unknown fields; nothing was changed.", "The request is invalid."))
            : (body, null);
    }

    private static double? Number(JsonElement body, string field, Dictionary<string, string[]> errors)
    {
        if (!body.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number))
        {
            return number;
        }

        errors[field] = ["Must be a number or null (the default)."];
        return null;
    }

    private static int? Integer(JsonElement body, string field, Dictionary<string, string[]> errors)
    {
        if (!body.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number))
        {
            return number;
        }

        errors[field] = [$"Must be a whole number from {int.MinValue} to {int.MaxValue} or null (the default)."];
        return null;
    }

    private static TimeSpan? Duration(JsonElement body, string field, Dictionary<string, string[]> errors)
    {
        if (!body.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String
            && TimeSpan.TryParseExact(value.GetString(), "c", CultureInfo.InvariantCulture, out var duration))
        {
            return duration;
        }

        errors[field] = ["Must be a duration as \"d.hh:mm:ss\" (e.g. \"7.00:00:00\") or null (the default)."];
        return null;
    }
}

/// <summary>A key just created; <see cref="Key"/> is shown this once.</summary>
public sealed record CreatedKeyResponse(string KeyId, string Key, string Role, string? Tenant, DateTimeOffset CreatedAt)
{
    internal static CreatedKeyResponse From(CreatedApiKey key) => new(key.Info.KeyId, key.Key, key.Info.Role, key.Info.Tenant, key.Info.CreatedAt);
}

/// <summary>A tenant's effective quotas and the overrides set for it (a field not shown takes the configured default).</summary>
public sealed record QuotasResponse(string Tenant, TenantQuotas Quotas, TenantQuotaOverrides Overrides)
{
    internal static QuotasResponse From(string tenant, TenantQuotaSettings settings) => new(tenant, settings.Effective, settings.Overrides);
}
