using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Orleans.Batch.Gateway.Batches;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Gateway.Http;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Text;

namespace Orleans.Batch.Gateway.Endpoints;

/// <summary>
/// The single-resource API. The gateway holds no resource logic: each request becomes one operation, run by the
/// same handler code a batch item runs, so both answer alike (including 404 and 405).
/// </summary>
public static class ResourceEndpoints
{
    private static readonly string[] Collections = ["users", "products", "orders"];
    private static readonly string[] Methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    public static IEndpointRouteBuilder MapResourceEndpoints(this IEndpointRouteBuilder app)
    {
        foreach (var collection in Collections)
        {
            var group = app.MapGroup($"/{collection}").WithTags(collection);
            group.MapMethods("/", Methods, ForwardAsync);
            group.MapMethods("/{id}", Methods, ForwardAsync);
        }

        return app;
    }

    internal static async Task<Results<OperationHttpResult, ProblemHttpResult>> ForwardAsync(
        HttpRequest request, IClusterClient cluster, IOptions<BatchApiOptions> options, CancellationToken cancellationToken)
    {
        var (key, keyProblem) = Submissions.ReadKey(request, options.Value);
        if (keyProblem is not null)
        {
            return TypedResults.Problem(keyProblem);
        }

        string? body = null;
        if (request.ContentLength is not 0 && request.Method is "POST" or "PUT" or "PATCH")
        {
            using var bytes = new MemoryStream();
            await request.Body.CopyToAsync(bytes, cancellationToken);
            var utf8 = bytes.GetBuffer().AsMemory(0, (int)bytes.Length);
            if (StorableText.InvalidUtf8At(utf8.Span) is var bad and >= 0)
            {
                return TypedResults.Problem(ApiProblems.MalformedJson(
                    $"The body is not valid UTF-8 (byte {bad + 1} starts an invalid sequence). Nothing was applied."));
            }

            if (TextProblems(utf8) is { } textProblem)
            {
                return TypedResults.Problem(textProblem);
            }

            body = Encoding.UTF8.GetString(utf8.Span);
        }

        if (QueryProblems(request) is { } queryProblem)
        {
            return TypedResults.Problem(queryProblem);
        }

        var path = request.Path.ToUriComponent() + request.QueryString.ToUriComponent();
        var operation = new OperationRequest("request", request.Method, path, body, null, null, key);
        var result = await cluster.GetGrain<IOperationGrain>(0).ExecuteAsync(operation, cancellationToken);
        return new OperationHttpResult(result);
    }

    /// <summary>
    /// A 400 naming the body's field whose name or value PostgreSQL could not store, or null. A body that is not JSON
    /// is left to the resource, which answers it as every item's malformed body.
    /// </summary>
    private static HttpValidationProblemDetails? TextProblems(ReadOnlyMemory<byte> utf8)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8);
        }
        catch (JsonException)
        {
            return null;
        }

        using (document)
        {
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            return JsonText.Check(document.RootElement, "", errors) ? null : Invalid(errors);
        }
    }

    /// <summary>A 400 naming the path or query parameter whose decoded text PostgreSQL could not store, or null.</summary>
    private static HttpValidationProblemDetails? QueryProblems(HttpRequest request)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (StorableText.Problem(request.Path.Value) is { } pathProblem)
        {
            errors["path"] = [pathProblem];
        }

        foreach (var (name, values) in request.Query)
        {
            if ((StorableText.Problem(name) ?? values.Select(v => StorableText.Problem(v)).FirstOrDefault(p => p is not null)) is { } problem)
            {
                errors[StorableText.Printable(name)] = [problem];
            }
        }

        return errors.Count == 0 ? null : Invalid(errors);
    }

    private static HttpValidationProblemDetails Invalid(Dictionary<string, string[]> errors) =>
        ApiProblems.Invalid(errors, "Nothing was applied; see 'errors'.", "One or more fields are invalid.");
}
