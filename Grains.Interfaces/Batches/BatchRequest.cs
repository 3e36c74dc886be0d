using Orleans.Batch.Grains.Interfaces.Operations;

namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <param name="Operations">The operations, in request order.</param>
/// <param name="Concurrency">The client's requested concurrency, or null for the configured default.</param>
/// <param name="Mode">How the client asked to be answered.</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.BatchRequest")]
public sealed record BatchRequest(
    [property: Id(0)] IReadOnlyList<OperationRequest> Operations,
    [property: Id(1)] int? Concurrency,
    [property: Id(2)] BatchMode Mode = BatchMode.Auto);

/// <summary>Auto answers small batches in the request and runs large ones asynchronously.</summary>
[GenerateSerializer, Alias("Orleans.Batch.BatchMode")]
public enum BatchMode
{
    Auto = 0,
    Sync = 1,
    Async = 2,
}
