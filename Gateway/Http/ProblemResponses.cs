using Microsoft.AspNetCore.Mvc;

namespace Orleans.Batch.Gateway.Http;

/// <summary>
/// Writes a problem as <c>application/problem+json</c> whatever the request's <c>Accept</c> says: ASP.NET Core's own
/// problem writer declines a request that accepts only other types (e.g. <c>text/html</c>), which then got an empty
/// or text/plain body.
/// </summary>
internal static class ProblemResponses
{
    public const string ContentType = "application/problem+json";

    public static Task WriteAsync(HttpContext http, ProblemDetails problem)
    {
        http.Response.StatusCode = problem.Status!.Value;
        return http.Response.WriteAsJsonAsync(problem, problem.GetType(), options: null, contentType: ContentType, http.RequestAborted);
    }
}
