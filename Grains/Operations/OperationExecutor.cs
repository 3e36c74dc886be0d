using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Idempotency;
using Orleans.Batch.Grains.Resources;

namespace Orleans.Batch.Grains.Operations;

/// <summary>
/// Runs one routed operation under the silo's database gate. A write with an idempotency key runs in one
/// transaction with its idempotency record, so its effect and the record commit together or not at all:
/// a key whose effect committed answers its stored result without running again; a key whose first run is still
/// in its transaction answers 409; the same key with another method, path or body answers 422. Failures store
/// nothing, so they run again when retried.
/// </summary>
public sealed class OperationExecutor(
    ResourceRouter router, NpgsqlDataSource dataSource, DatabaseGate gate, IOptions<IdempotencyOptions> options)
{
    private const string ClaimSql = """
        SELECT pg_try_advisory_xact_lock(hashtextextended(@Key, 0)) AS Locked,
               r.fingerprint AS Fingerprint, r.status AS Status, r.result AS Result, r.location AS Location
        FROM (SELECT 1) AS one
        LEFT JOIN idempotency_records r ON r.key = @Key AND r.expires_at > now()
        """;

    private const string RecordSql = """
        INSERT INTO idempotency_records (key, fingerprint, status, result, location, expires_at)
        VALUES (@Key, @Fingerprint, @Status, @Result, @Location, now() + @Retention)
        ON CONFLICT (key) DO UPDATE
        SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, result = EXCLUDED.result,
            location = EXCLUDED.location, created_at = now(), expires_at = EXCLUDED.expires_at
        WHERE idempotency_records.expires_at <= now()
        """;

    public async Task<ResourceResponse> ExecuteAsync(
        string method, string path, string? body, string? idempotencyKey, CancellationToken cancellationToken)
    {
        var routed = router.Route(method, path, body);
        if (routed.Immediate is { } answer)
        {
            return answer;
        }

        if (idempotencyKey is not null && idempotencyKey.Length > options.Value.MaxKeyLength)
        {
            return Problems.Validation(new Dictionary<string, string[]>
            {
                ["idempotencyKey"] = [$"Must be at most {options.Value.MaxKeyLength} characters; got {idempotencyKey.Length}."],
            });
        }

        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (idempotencyKey is null || !routed.Mutates)
        {
            return await routed.Run!(new DbSession(connection), cancellationToken);
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var session = new DbSession(connection, transaction);
        var fingerprint = Fingerprint.Of(method, path, body);
        var claim = await connection.QuerySingleAsync<Claim>(session.Command(ClaimSql, new { Key = idempotencyKey }, cancellationToken));
        if (!claim.Locked)
        {
            return Problems.KeyInFlight(idempotencyKey);
        }

        if (claim.Fingerprint is not null)
        {
            return claim.Fingerprint.AsSpan().SequenceEqual(fingerprint)
                ? new ResourceResponse(claim.Status!.Value, claim.Result, claim.Location)
                : Problems.KeyReused(idempotencyKey);
        }

        var response = await routed.Run!(session, cancellationToken);
        if (response.Status is < 200 or >= 300)
        {
            await transaction.RollbackAsync(cancellationToken);
            return response;
        }

        await connection.ExecuteAsync(session.Command(RecordSql, new
        {
            Key = idempotencyKey,
            Fingerprint = fingerprint,
            Status = (short)response.Status,
            Result = response.Body,
            response.Location,
            options.Value.Retention,
        }, cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return response;
    }

    private sealed record Claim(bool Locked, byte[]? Fingerprint, short? Status, string? Result, string? Location);
}
