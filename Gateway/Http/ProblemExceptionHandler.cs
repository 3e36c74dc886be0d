using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Errors;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;
using Orleans.Serialization;

namespace Orleans.Batch.Gateway.Http;

/// <summary>
/// Turns whatever escapes a handler into problem details: an over-long body is a 413 naming the limit, another bad
/// request its 4xx; a cluster that cannot be reached (or answers with what this client cannot read), or a database the
/// silos cannot reach, a 503; anything else a 500 that says nothing of the exception, which is logged.
/// </summary>
internal sealed partial class ProblemExceptionHandler(
    IOptions<BatchApiOptions> options, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        var problem = ProblemFor(exception, options.Value.MaxRequestBytes);

        if (problem.Status == StatusCodes.Status429TooManyRequests)
        {
            // The quota frees up as the tenant's own work ends: the client sends the request again later.
            http.Response.Headers.RetryAfter = options.Value.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (problem.Status == StatusCodes.Status503ServiceUnavailable)
        {
            LogClusterUnavailable(http.Request.Method, http.Request.Path, exception);
            // Both are passing: the client may send the request again (with its Idempotency-Key, if it had one).
            http.Response.Headers.RetryAfter = options.Value.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (problem.Status >= StatusCodes.Status500InternalServerError)
        {
            LogServerError(http.Request.Method, http.Request.Path, exception);
        }

        await ProblemResponses.WriteAsync(http, problem);
        return true;
    }

    /// <summary>The problem an exception escaping a handler is answered with.</summary>
    internal static ProblemDetails ProblemFor(Exception exception, long bodyLimit) => exception switch
    {
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => ApiProblems.BodyTooLarge(bodyLimit),
        BadHttpRequestException bad => ApiProblems.BadRequest(bad.StatusCode, bad.Message),
        DatabaseUnavailableException => ApiProblems.DatabaseUnavailable(),
        BatchGoneException gone => ApiProblems.BatchGone(gone.BatchId),
        TenantQuotaExceededException quota => ApiProblems.QuotaExceeded(quota.Quota, quota.Limit, quota.Message),
        _ when DatabaseFailures.LostConnection(exception) => ApiProblems.DatabaseUnavailable(),
        ServerFailureException failure => ApiProblems.ServerError(failure.Reference),
        _ when ClusterUnreachable(exception) => ApiProblems.ClusterUnavailable(),
        _ => ApiProblems.ServerError(null),
    };

    /// <summary>
    /// Failures of the Orleans client itself: no silo answered (or none is known), the call timed out, or a silo's answer
    /// could not be read (a type with no codec here, e.g. of a provider the gateway does not load).
    /// </summary>
    private static bool ClusterUnreachable(Exception exception) =>
        exception is OrleansException or TimeoutException or SerializerException
        || (exception is InvalidOperationException && exception.Source?.StartsWith("Orleans", StringComparison.Ordinal) == true);

    [LoggerMessage(EventId = 3100, Level = LogLevel.Error, Message = "{Method} {Path} failed; answered 500 without the exception's details")]
    private partial void LogServerError(string method, string path, Exception exception);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "{Method} {Path}: the cluster or its database could not be reached")]
    private partial void LogClusterUnavailable(string method, string path, Exception exception);
}
