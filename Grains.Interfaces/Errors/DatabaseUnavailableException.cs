namespace Orleans.Batch.Grains.Interfaces.Errors;

/// <summary>
/// A grain call failed because PostgreSQL could not be reached or dropped the connection (a restart, a
/// shutdown, too many connections). Nothing of the call was committed; the caller may retry.
/// </summary>
[GenerateSerializer, Alias("Orleans.Batch.DatabaseUnavailableException")]
public sealed class DatabaseUnavailableException : Exception
{
    public DatabaseUnavailableException()
    {
    }

    public DatabaseUnavailableException(string message)
        : base(message)
    {
    }

    public DatabaseUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
