namespace Orleans.Batch.Grains.Interfaces.Operations;

/// <summary>One HTTP-shaped operation against a resource, as a client sent it.</summary>
/// <param name="Id">The client's id for the operation, unique within its batch.</param>
/// <param name="Method">HTTP method, upper case.</param>
/// <param name="Path">Resource path with optional query string, e.g. <c>/users/42</c>.</param>
/// <param name="Body">The request body as raw JSON, or null.</param>
/// <param name="Headers">Optional per-operation headers.</param>
/// <param name="BatchId">The batch the operation belongs to, or null for a single-resource request.</param>
/// <param name="IdempotencyKey">The client's key its effect is recorded under, or null. (An item of a batch is also recorded in its own result row.)</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.OperationRequest")]
public sealed record OperationRequest(
    [property: Id(0)] string Id,
    [property: Id(1)] string Method,
    [property: Id(2)] string Path,
    [property: Id(3)] string? Body,
    [property: Id(4)] IReadOnlyDictionary<string, string>? Headers,
    [property: Id(5)] string? BatchId,
    [property: Id(6)] string? IdempotencyKey = null);
