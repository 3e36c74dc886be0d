using Dapper;
using Npgsql;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Grains.Database;

/// <summary>An open connection, and the transaction statements join when the caller opened one.</summary>
public sealed record DbSession(NpgsqlConnection Connection, NpgsqlTransaction? Transaction = null)
{
    /// <summary>
    /// The tenant whose rows the session's statements read and write, taken from the call by the grain that opened it;
    /// a session opened for no tenant refuses such statements.
    /// </summary>
    public string Tenant { get => field ?? throw new TenantRequiredException(); init; }

    public CommandDefinition Command(string sql, object? parameters, CancellationToken cancellationToken) =>
        new(sql, parameters, Transaction, cancellationToken: cancellationToken);

    /// <summary>A command over a tenant's rows: <c>@Tenant</c> is <see cref="Tenant"/>, beside <paramref name="parameters"/>.</summary>
    public CommandDefinition TenantCommand(string sql, object? parameters, CancellationToken cancellationToken)
    {
        var all = new DynamicParameters(parameters);
        all.Add("Tenant", Tenant);
        return Command(sql, all, cancellationToken);
    }
}
