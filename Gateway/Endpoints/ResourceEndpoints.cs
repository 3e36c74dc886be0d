using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Orleans.Batch.Gateway.Batches;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Gateway.Http;
using Orleans.Batch.Grains.Interfaces.Operations;

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
            using var reader = new StreamReader(request.Body, Encoding.UTF8);
            body = await reader.ReadToEndAsync(cancellationToken);
        }

        var path = request.Path.ToUriComponent() + request.QueryString.ToUriComponent();
        var operation = new OperationRequest("request", request.Method, path, body, null, null, key);
        var result = await cluster.GetGrain<IOperationGrain>(0).ExecuteAsync(operation, cancellationToken);
        return new OperationHttpResult(result);
    }
}
