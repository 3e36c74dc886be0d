using Orleans.Batch.Grains.Interfaces.Operations;

namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <summary>One item to add to a batch.</summary>
/// <param name="Operation">What to run.</param>
/// <param name="Source">The input it came from, e.g. the columns of a CSV row, kept for the results file.</param>
/// <param name="Rejected">An answer given without running it, e.g. for a CSV row that cannot become an operation.</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.BatchItem")]
public sealed record BatchItem(
    [property: Id(0)] OperationRequest Operation,
    [property: Id(1)] IReadOnlyList<string>? Source = null,
    [property: Id(2)] OperationResult? Rejected = null);

/// <summary>One item's result, at its place (<paramref name="Seq"/>, 0-based) in request order.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.BatchItemResult")]
public sealed record BatchItemResult(
    [property: Id(0)] int Seq,
    [property: Id(1)] ItemOutcome Outcome,
    [property: Id(2)] OperationResult Result,
    [property: Id(3)] IReadOnlyList<string>? Source);
