using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Orleans.Batch.Gateway.Http;

/// <summary>
/// The request line and header limits, enforced by the app so that going past them is answered as problem details:
/// Kestrel answers its own limits itself, with an empty body, before any middleware runs. Kestrel's limits are set
/// <see cref="KestrelHeadroom"/> times higher, so it answers by itself only requests far past these.
/// </summary>
internal static class RequestLimits
{
    /// <summary>Longest request target (path and query), as Kestrel's default request line limit allows.</summary>
    public const int MaxTargetLength = 8 * 1024;

    /// <summary>Most bytes of header names and values, as Kestrel's default.</summary>
    public const int MaxHeaderBytes = 32 * 1024;

    /// <summary>Most header fields, as Kestrel's default.</summary>
    public const int MaxHeaderCount = 100;

    public const int KestrelHeadroom = 8;

    public static void Configure(KestrelServerLimits limits)
    {
        limits.MaxRequestLineSize = MaxTargetLength * KestrelHeadroom;
        limits.MaxRequestHeadersTotalSize = MaxHeaderBytes * KestrelHeadroom;
        limits.MaxRequestHeaderCount = MaxHeaderCount * KestrelHeadroom;
    }

    public static Task InvokeAsync(HttpContext http, RequestDelegate next)
    {
        var request = http.Request;
        var target = request.PathBase.ToUriComponent().Length + request.Path.ToUriComponent().Length + (request.QueryString.Value?.Length ?? 0);
        if (target > MaxTargetLength)
        {
            return ProblemResponses.WriteAsync(http, ApiProblems.TargetTooLong(MaxTargetLength, target));
        }

        var count = 0;
        var bytes = 0;
        foreach (var (name, values) in request.Headers)
        {
            foreach (var value in values)
            {
                count++;
                bytes += name.Length + (value?.Length ?? 0);
            }
        }

        return count > MaxHeaderCount || bytes > MaxHeaderBytes
            ? ProblemResponses.WriteAsync(http, ApiProblems.HeadersTooLarge(MaxHeaderCount, MaxHeaderBytes))
            : next(http);
    }
}
