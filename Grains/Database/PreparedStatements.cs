using Npgsql;

namespace Orleans.Batch.Grains.Database;

/// <summary>
/// Npgsql (10.0.3) records an auto-prepared statement as prepared as soon as PostgreSQL has parsed it. When the same
/// round trip then fails binding a parameter (a data exception, SQLSTATE class 22, such as text holding a NUL), the
/// statement is left without its row description, and its next use on that connection reads the rows as a protocol
/// error ("Received unexpected backend message DataRow"), failing whichever request the pool gave the connection to.
/// Resetting the connection on close does not help: prepared statements outlive it. So after such a failure the
/// connection's prepared statements are dropped, and each is prepared afresh on its next use.
/// </summary>
public static class PreparedStatements
{
    /// <summary>Whether <paramref name="exception"/> may have left a prepared statement of its connection unusable.</summary>
    public static bool MayBeBroken(Exception exception) => exception is PostgresException { SqlState: ['2', '2', ..] };

    /// <summary>
    /// Drops the connection's prepared statements (outside any failed transaction); a broken connection is left as it is.
    /// Npgsql offers this only as a blocking call: one round trip, on a path taken only after such a failure.
    /// </summary>
    public static void Forget(NpgsqlConnection connection)
    {
        if (connection.State == System.Data.ConnectionState.Open)
        {
            connection.UnprepareAll();
        }
    }
}
