namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <summary>What a cancel or retry did: the batch's progress, or why it could not be done now.</summary>
/// <param name="Progress">Null when no batch has the id.</param>
/// <param name="Conflict">Why the command does not apply to the batch as it is, else null.</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.BatchCommandResult")]
public sealed record BatchCommandResult(
    [property: Id(0)] BatchProgress? Progress,
    [property: Id(1)] string? Conflict = null);
