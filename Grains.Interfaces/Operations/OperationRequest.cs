namespace Orleans.Batch.Grains.Interfaces.Operations;

/// <summary>One HTTP-shaped operation against a resource, as a client sent it.</summary>
/// <param name="Id">The client's id for the operation, unique within its batch.</param>
/// <param name="Method">HTTP method, upper case.</param>
/// <param name="Path">Resource path with optional query string, e.g. <c>/users/42</c>.</param>
/// <param name="Body">The request body as raw JSON, or null.</param>
/// <param name="Headers">Optional per-operation headers.</param>
/// <param name="BatchId">The batch the operation belongs to, or null for a single-resource request.</param>
/// <param name="IdempotencyKey">The client's key its effect is recorded under, or null.</param>
/// <param name="Seq">Its position in its batch: without a client key, the batch's own row for it records the effect.</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.OperationRequest")]
public sealed record OperationRequest(
    [property: Id(0)] string Id,
    [property: Id(1)] string Method,
    [property: Id(2)] string Path,
    [property: Id(3)] string? Body,
    [property: Id(4)] IReadOnlyDictionary<string, string>? Headers,
    [property: Id(5)] string? BatchId,
    [property: Id(6)] string? IdempotencyKey = null,
    [property: Id(7)] int? Seq = null)
{
    /// <summary>True when the batch item's own row is its idempotency record.</summary>
    public bool RecordedByBatchRow => IdempotencyKey is null && BatchId is not null && Seq is not null;
}
