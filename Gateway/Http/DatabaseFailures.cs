using Orleans.Batch.Grains.Interfaces.Errors;
using Orleans.Serialization;

namespace Orleans.Batch.Gateway.Http;

/// <summary>
/// Recognises a silo's lost or refused PostgreSQL connection in an exception that reached the gateway as Npgsql's own
/// (the gateway has no Npgsql, so it arrives as a fallback naming the type): one a grain met outside a call, such as
/// reading its state right after a database restart.
/// </summary>
internal static class DatabaseFailures
{
    public static bool LostConnection(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            var type = e is UnavailableExceptionFallbackException fallback ? fallback.ExceptionType : e.GetType().FullName;
            if (type is not null && type.StartsWith("Npgsql.", StringComparison.Ordinal))
            {
                return LostConnection(type, e.Message);
            }
        }

        return false;
    }

    /// <summary>An Npgsql exception of <paramref name="type"/>: a server error's message starts with its SQLSTATE; any other is a connection failure.</summary>
    public static bool LostConnection(string type, string message) =>
        type != "Npgsql.PostgresException" || DatabaseUnavailableException.IsUnavailableState(message);
}
