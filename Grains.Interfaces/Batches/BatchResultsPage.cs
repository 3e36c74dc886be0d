namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <param name="Items">Finished items in request order, after the requested position.</param>
/// <param name="NextAfter">The position to continue after, or null when this page reached the end.</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.BatchResultsPage")]
public sealed record BatchResultsPage(
    [property: Id(0)] BatchProgress Progress,
    [property: Id(1)] IReadOnlyList<BatchItemResult> Items,
    [property: Id(2)] int? NextAfter);
