using Orleans.Runtime;

namespace Orleans.Batch.Grains.Interfaces.Errors;

/// <summary>
/// A grain call failed because PostgreSQL could not be reached or dropped the connection (a restart, a
/// shutdown, too many connections). Nothing of the call was committed; the caller may retry.
/// An <see cref="OrleansException"/>, so that when grain storage throws it (a state that cannot be read while a grain
/// activates), Orleans passes it on to the caller as it is instead of wrapping it in a message.
/// </summary>
[GenerateSerializer, Alias("Orleans.Batch.DatabaseUnavailableException")]
public sealed class DatabaseUnavailableException : OrleansException
{
    public DatabaseUnavailableException()
    {
    }

    /// <summary>
    /// Whether a PostgreSQL error (its SQLSTATE, or a message that starts with it) means the connection was lost or
    /// refused: class 08 (connection), 53 (insufficient resources), 57P (shutdown, restart).
    /// </summary>
    public static bool IsUnavailableState(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal)
        || sqlState.StartsWith("53", StringComparison.Ordinal)
        || sqlState.StartsWith("57P", StringComparison.Ordinal);

    public DatabaseUnavailableException(string message)
        : base(message)
    {
    }

    public DatabaseUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
