using Orleans.Batch.Grains.Interfaces.Operations;

namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <param name="Items">Results in request order, starting at the requested offset.</param>
/// <param name="NextOffset">Where the next page starts, or null when this page reached the end.</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.BatchResultsPage")]
public sealed record BatchResultsPage(
    [property: Id(0)] BatchProgress Progress,
    [property: Id(1)] IReadOnlyList<OperationResult> Items,
    [property: Id(2)] int? NextOffset);
