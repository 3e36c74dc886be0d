using Orleans.Batch.Grains.Interfaces.Operations;

namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <summary>A finished batch: its final status and every result, in request order.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.BatchOutcome")]
public sealed record BatchOutcome(
    [property: Id(0)] BatchProgress Progress,
    [property: Id(1)] IReadOnlyList<OperationResult> Results);
