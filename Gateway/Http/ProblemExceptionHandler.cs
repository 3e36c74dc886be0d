using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Grains.Interfaces.Errors;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace Orleans.Batch.Gateway.Http;

/// <summary>
/// Turns what escapes a handler into problem details: an over-long body is a 413 naming the limit, a cluster that
/// cannot be reached, or a database the silos cannot reach, a 503; anything else the default 500.
/// </summary>
internal sealed partial class ProblemExceptionHandler(
    IProblemDetailsService problems, IOptions<BatchApiOptions> options, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        var problem = ProblemFor(exception, options.Value.MaxRequestBytes);
        if (problem is null)
        {
            return false;
        }

        if (problem.Status == StatusCodes.Status503ServiceUnavailable)
        {
            LogClusterUnavailable(http.Request.Method, http.Request.Path, exception);
            // Both are passing: the client may send the request again (with its Idempotency-Key, if it had one).
            http.Response.Headers.RetryAfter = options.Value.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        http.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem, Exception = exception });
    }

    /// <summary>The problem an exception escaping a handler is answered with; null for the default 500.</summary>
    internal static ProblemDetails? ProblemFor(Exception exception, long bodyLimit) => exception switch
    {
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => ApiProblems.BodyTooLarge(bodyLimit),
        BadHttpRequestException bad => new ProblemDetails { Status = bad.StatusCode, Title = "Bad Request", Detail = bad.Message },
        SiloUnavailableException or OrleansMessageRejectionException or ConnectionFailedException or GatewayTooBusyException
            or TimeoutException => ApiProblems.ClusterUnavailable(),
        DatabaseUnavailableException => ApiProblems.DatabaseUnavailable(),
        _ when DatabaseFailures.LostConnection(exception) => ApiProblems.DatabaseUnavailable(),
        _ => null,
    };

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "{Method} {Path}: the cluster or its database could not be reached")]
    private partial void LogClusterUnavailable(string method, string path, Exception exception);
}
