using Npgsql;
using Orleans.Batch.Grains.Interfaces.Errors;

namespace Orleans.Batch.Grains.Database;

/// <summary>
/// Turns a lost or refused database connection that escapes a grain call into a <see cref="DatabaseUnavailableException"/>,
/// which the caller can deserialize (Npgsql's exceptions have no codec) and answer as 503 instead of 500.
/// </summary>
internal sealed class DatabaseExceptionFilter : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (NpgsqlException e) when (IsUnavailable(e))
        {
            throw Unavailable(e);
        }
    }

    /// <summary>What a caller is told of <paramref name="exception"/>, a lost or refused connection.</summary>
    public static DatabaseUnavailableException Unavailable(NpgsqlException exception)
    {
        var state = exception is PostgresException p ? $" ({p.SqlState})" : "";
        return new DatabaseUnavailableException($"The database could not be reached{state}; nothing of the call was committed.");
    }

    /// <summary>Connection failures, and server errors that mean the connection was lost or refused.</summary>
    public static bool IsUnavailable(NpgsqlException exception) =>
        exception is not PostgresException p || DatabaseUnavailableException.IsUnavailableState(p.SqlState);
}
