using Dapper;
using Npgsql;

namespace Orleans.Batch.Grains.Database;

/// <summary>An open connection, and the transaction statements join when the caller opened one.</summary>
public sealed record DbSession(NpgsqlConnection Connection, NpgsqlTransaction? Transaction = null)
{
    public CommandDefinition Command(string sql, object? parameters, CancellationToken cancellationToken) =>
        new(sql, parameters, Transaction, cancellationToken: cancellationToken);
}
