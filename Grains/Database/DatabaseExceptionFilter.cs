using Npgsql;
using Orleans.Batch.Grains.Interfaces.Errors;

namespace Orleans.Batch.Grains.Database;

/// <summary>
/// Turns a lost or refused database connection that escapes a grain call (Npgsql's own exception, or one that wraps it,
/// such as a reminder that could not be stored) into a <see cref="DatabaseUnavailableException"/>, which the caller can
/// deserialize (Npgsql's exceptions have no codec) and answer as 503 instead of 500.
/// </summary>
internal sealed class DatabaseExceptionFilter(DatabaseAvailability availability) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception e) when (e is not DatabaseUnavailableException && DatabaseAvailability.IsUnavailable(e))
        {
            availability.ForgetConnections();
            var state = FindPostgres(e) is { } p ? $" ({p.SqlState})" : "";
            throw new DatabaseUnavailableException($"The database could not be reached{state}; nothing of the call was committed.");
        }
    }

    private static PostgresException? FindPostgres(Exception? e) => e is null or PostgresException ? e as PostgresException : FindPostgres(e.InnerException);
}
