namespace Orleans.Batch.Gateway.Imports;

/// <summary>The input is not a well-formed CSV file; <see cref="Line"/> is the 1-based line where the problem is.</summary>
public sealed class CsvFormatException : Exception
{
    public CsvFormatException(long line, string message)
        : base(message)
    {
        Line = line;
    }

    public long Line { get; }
}
