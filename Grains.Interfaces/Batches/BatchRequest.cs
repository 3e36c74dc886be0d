using Orleans.Batch.Grains.Interfaces.Operations;

namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <param name="Operations">The operations, in request order.</param>
/// <param name="Concurrency">The client's requested concurrency, or null for the configured default.</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.BatchRequest")]
public sealed record BatchRequest(
    [property: Id(0)] IReadOnlyList<OperationRequest> Operations,
    [property: Id(1)] int? Concurrency);
