namespace Orleans.Batch.Gateway.Imports;

/// <summary>One CSV record: its fields, decoded, and the 1-based physical line on which it starts.</summary>
internal sealed record CsvRecord(long Line, IReadOnlyList<string> Fields);
