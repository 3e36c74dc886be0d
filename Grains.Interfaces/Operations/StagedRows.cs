namespace Orleans.Batch.Grains.Interfaces.Operations;

/// <summary>
/// The column values of a chunk of staged creates, as their batch checked them when it stored them: element <c>i</c> of
/// each column is the <c>i</c>-th create's. Columnar, so a chunk of thousands travels as a few arrays of strings.
/// </summary>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.StagedRows")]
public sealed record StagedRows([property: Id(0)] string?[][] Columns);
