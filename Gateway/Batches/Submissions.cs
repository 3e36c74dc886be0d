using Microsoft.AspNetCore.Mvc;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Gateway.Http;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Interfaces.Text;

namespace Orleans.Batch.Gateway.Batches;

/// <summary>Batch ids, and the <c>Idempotency-Key</c> header that makes a submission return its first batch.</summary>
internal static class Submissions
{
    public const string Header = "Idempotency-Key";

    public static string NewBatchId() => Guid.CreateVersion7().ToString("N");

    public static (string? Key, ProblemDetails? Problem) ReadKey(HttpRequest request, BatchApiOptions limits)
    {
        if (!request.Headers.TryGetValue(Header, out var values))
        {
            return (null, null);
        }

        var key = values.ToString();
        return key.Length == 0 || key.Length > limits.MaxIdempotencyKeyLength || values.Count > 1
            ? (null, ApiProblems.InvalidIdempotencyKey(limits.MaxIdempotencyKeyLength))
            : StorableText.Problem(key) is { } problem
            ? (null, ApiProblems.InvalidIdempotencyKey(limits.MaxIdempotencyKeyLength, problem))
            : (key, null);
    }

    /// <summary>Claims the request's key, the tenant's own, for <paramref name="batchId"/>; null when the request has no key.</summary>
    /// <remarks>A claim sent again answers the same claim (the first one wins), so it is re-sent while a silo dies.</remarks>
    public static async Task<SubmissionClaim?> ClaimAsync(
        IClusterClient cluster, GrainRetry retry, HttpRequest request, BatchApiOptions limits, string batchId, byte[] fingerprint) =>
        ReadKey(request, limits).Key is { } key
            ? await retry.RunAsync(
                () => cluster.GetGrain<ISubmissionGrain>(SubmissionKeys.For(TenantContext.Required, request.Path, key)).ClaimAsync(batchId, fingerprint),
                request.HttpContext.RequestAborted)
            : null;
}
