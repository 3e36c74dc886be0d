using System.Diagnostics;
using Npgsql;

namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>
/// An uncommitted insert on a connection of its own: any other insert of the same key waits on the unique index
/// until this is released. Release rolls the insert back, so the waiting insert then succeeds.
/// </summary>
public class InsertHold : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private NpgsqlTransaction? _transaction;

    protected InsertHold(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        _connection = connection;
        _transaction = transaction;
    }

    /// <summary>
    /// Holds the row of <paramref name="batchId"/>'s item <paramref name="seq"/> in <c>batch_result_runs</c>: the item still
    /// reads as pending, and storing its result (a checkpoint, or the item's own ledger record) waits until released.
    /// </summary>
    public static async Task<InsertHold> AcquireResultAsync(NpgsqlDataSource database, string batchId, int seq)
    {
        var (connection, transaction) = await InsertAsync(
            database,
            """
            INSERT INTO batch_result_runs (batch_id, first_seq, covers, seqs, outcomes, statuses, results, locations, succeeded, failed, cancelled)
            VALUES ($1, $2, int4multirange(int4range($2, $2 + 1)), ARRAY[$2], '{1}', '{200}', '{null}', '{null}', 1, 0, 0)
            """,
            batchId, seq);
        return new InsertHold(connection, transaction);
    }

    /// <summary>Waits until another session is blocked behind this hold, i.e. the operation is really waiting.</summary>
    public Task WaitUntilBlockingAsync(NpgsqlDataSource database) => DatabaseHolds.WaitUntilBlockingAsync(database, _connection.ProcessID);

    public async Task ReleaseAsync()
    {
        if (_transaction is { } transaction)
        {
            _transaction = null;
            await transaction.RollbackAsync();
            await transaction.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ReleaseAsync();
        await _connection.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>Runs <paramref name="sql"/> with positional <paramref name="values"/> in a transaction left open.</summary>
    protected static async Task<(NpgsqlConnection Connection, NpgsqlTransaction Transaction)> InsertAsync(
        NpgsqlDataSource database, string sql, params object[] values)
    {
        var connection = await database.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand(sql, connection, transaction))
        {
            foreach (var value in values)
            {
                insert.Parameters.AddWithValue(value);
            }

            await insert.ExecuteNonQueryAsync();
        }

        return (connection, transaction);
    }
}

/// <summary>
/// Makes an operation wait for real: an uncommitted insert of a user with <see cref="Email"/>, so any other insert of
/// that email (compared case-insensitively, as the unique index does) waits on the index until this is released.
/// </summary>
public sealed class UserInsertHold : InsertHold
{
    private UserInsertHold(NpgsqlConnection connection, NpgsqlTransaction transaction, string email)
        : base(connection, transaction) => Email = email;

    public string Email { get; }

    public static async Task<UserInsertHold> AcquireAsync(NpgsqlDataSource database, string email)
    {
        var (connection, transaction) = await InsertAsync(database, "INSERT INTO users (tenant_id, email, name) VALUES ('default', $1, 'hold')", email);
        return new UserInsertHold(connection, transaction, email);
    }
}

/// <summary>
/// Holds the session-level advisory lock an idempotency key of the default tenant holds while its first execution runs
/// (<c>hashtextextended(key, hashtext(tenant))</c>), so the key looks "still running" to every other execution until released.
/// </summary>
public sealed class IdempotencyKeyHold : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly string _key;
    private bool _held = true;

    private IdempotencyKeyHold(NpgsqlConnection connection, string key)
    {
        _connection = connection;
        _key = key;
    }

    public static async Task<IdempotencyKeyHold> AcquireAsync(NpgsqlDataSource database, string key)
    {
        var connection = await database.OpenConnectionAsync();
        await using (var command = new NpgsqlCommand("SELECT pg_advisory_lock(hashtextextended($1, hashtext('default')))", connection))
        {
            command.Parameters.AddWithValue(key);
            await command.ExecuteNonQueryAsync();
        }

        return new IdempotencyKeyHold(connection, key);
    }

    public async Task ReleaseAsync()
    {
        if (_held)
        {
            _held = false;
            await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock(hashtextextended($1, hashtext('default')))", _connection);
            command.Parameters.AddWithValue(_key);
            Assert.True((bool)(await command.ExecuteScalarAsync())!);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ReleaseAsync();
        await _connection.DisposeAsync();
    }
}

public static class DatabaseHolds
{
    /// <summary>Waits until some session waits for a lock <paramref name="pid"/> holds.</summary>
    public static async Task WaitUntilBlockingAsync(NpgsqlDataSource database, int pid)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            await using (var command = database.CreateCommand("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))"))
            {
                command.Parameters.AddWithValue(pid);
                if ((long)(await command.ExecuteScalarAsync())! > 0)
                {
                    return;
                }
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "No operation ever waited behind the hold.");
            await Task.Delay(20);
        }
    }

    /// <summary>How many users have one of <paramref name="emails"/>, compared case-insensitively.</summary>
    public static async Task<long> CountUsersAsync(this NpgsqlDataSource database, IEnumerable<string> emails)
    {
        await using var command = database.CreateCommand("SELECT count(*) FROM users WHERE lower(email) = ANY($1)");
        command.Parameters.AddWithValue(emails.Select(e => e.ToLowerInvariant()).ToArray());
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
