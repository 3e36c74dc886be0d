using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Orleans.Batch.Grains.Interfaces.Health;

namespace Orleans.Batch.Gateway.Endpoints;

public static class HealthEndpoints
{
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(5);

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", CheckAsync).WithTags("Health").AllowAnonymous();
        return app;
    }

    /// <summary>200 only when a silo answers and reaches PostgreSQL; 503 problem details naming what failed otherwise.</summary>
    internal static async Task<Results<Ok<HealthResponse>, ProblemHttpResult>> CheckAsync(IClusterClient cluster, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CheckTimeout);
        HealthReport report;
        try
        {
            report = await cluster.GetGrain<IHealthGrain>(0).CheckAsync(timeout.Token).WaitAsync(timeout.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return Unhealthy("unreachable", "unknown", $"No silo answered: {e.Message}");
        }

        return report.DatabaseHealthy
            ? TypedResults.Ok(new HealthResponse("healthy", "ok", "ok", report.Silo))
            : Unhealthy("ok", "unreachable", $"Silo {report.Silo} cannot reach PostgreSQL: {report.Detail}");
    }

    private static ProblemHttpResult Unhealthy(string cluster, string database, string detail)
    {
        var problem = new ProblemDetails
        {
            Type = "urn:orleans-batch:problem:unhealthy",
            Title = "Service Unavailable",
            Status = StatusCodes.Status503ServiceUnavailable,
            Detail = detail,
        };
        problem.Extensions["cluster"] = cluster;
        problem.Extensions["database"] = database;
        return TypedResults.Problem(problem);
    }
}

public sealed record HealthResponse(string Status, string Cluster, string Database, string Silo);
