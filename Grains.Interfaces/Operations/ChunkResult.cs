namespace Orleans.Batch.Grains.Interfaces.Operations;

/// <summary>What each item of a chunk answered.</summary>
/// <param name="Results">One result per item, in the chunk's order.</param>
/// <param name="Recorded">Per item: its result is already stored with the batch (written with its effect), so the batch need not write it.</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.ChunkResult")]
public sealed record ChunkResult(
    [property: Id(0)] IReadOnlyList<OperationResult> Results,
    [property: Id(1)] IReadOnlyList<bool> Recorded);
