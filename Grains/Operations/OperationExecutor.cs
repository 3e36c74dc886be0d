using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Idempotency;
using Orleans.Batch.Grains.Interfaces.Text;
using Orleans.Batch.Grains.Resources;
using Orleans.Batch.Grains.Tenancy;

namespace Orleans.Batch.Grains.Operations;

/// <summary>
/// Runs routed operations under the silo's database gate. A write with an idempotency key runs in one
/// transaction with its idempotency record, so its effect and the record commit together or not at all:
/// a key whose effect committed answers its stored result without running again; a key whose first run is still
/// in its transaction answers 409; the same key with another method, path or body answers 422. Failures store
/// nothing, so they run again when retried. Everything runs for the tenant its caller names: it reads and writes that
/// tenant's resources and keys only, and keeps a key for that tenant's idempotency retention.
/// </summary>
public sealed partial class OperationExecutor(
    ResourceRouter router, NpgsqlDataSource dataSource, DatabaseGate gate, IOptions<IdempotencyOptions> options, TenantQuotaCache quotas)
{
    // The advisory lock of a key is seeded with its tenant's hash: one key in two tenants is two keys.
    private const string ClaimSql = """
        SELECT pg_try_advisory_xact_lock(hashtextextended(@Key, hashtext(@Tenant))) AS Locked,
               r.fingerprint AS Fingerprint, r.status AS Status, r.result AS Result, r.location AS Location
        FROM (SELECT 1) AS one
        LEFT JOIN idempotency_records r ON r.tenant_id = @Tenant AND r.key = @Key AND r.expires_at > now()
        """;

    private const string RecordSql = """
        INSERT INTO idempotency_records (tenant_id, key, fingerprint, status, result, location, expires_at)
        SELECT @Tenant, key, fingerprint, status, result, location, now() + @Retention
        FROM unnest(@Keys, @Fingerprints, @Statuses, @Results, @Locations) AS r(key, fingerprint, status, result, location)
        ON CONFLICT (tenant_id, key) DO UPDATE
        SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, result = EXCLUDED.result,
            location = EXCLUDED.location, created_at = now(), expires_at = EXCLUDED.expires_at
        WHERE idempotency_records.expires_at <= now()
        """;

    /// <summary>Runs one operation for <paramref name="tenant"/>, which the grain that executes it took from its call.</summary>
    public async Task<ResourceResponse> ExecuteAsync(
        string tenant, string method, string path, string? body, string? idempotencyKey, CancellationToken cancellationToken)
    {
        var routed = router.Route(method, path, body);
        if (Precheck(routed, idempotencyKey) is { } answer)
        {
            return answer;
        }

        var retention = idempotencyKey is null || !routed.Mutates ? default : await RetentionAsync(tenant, cancellationToken);
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            return await RunAsync(connection, tenant, retention, routed, method, path, body, idempotencyKey, cancellationToken);
        }
        catch (Exception e) when (PreparedStatements.MayBeBroken(e))
        {
            PreparedStatements.Forget(connection);
            throw;
        }
    }

    private async Task<ResourceResponse> RunAsync(
        NpgsqlConnection connection, string tenant, TimeSpan retention, RoutedOperation routed, string method, string path, string? body,
        string? idempotencyKey, CancellationToken cancellationToken)
    {
        if (idempotencyKey is null || !routed.Mutates)
        {
            return await routed.Run!(new DbSession(connection) { Tenant = tenant }, cancellationToken);
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var (response, keep) = await RunKeyedAsync(
            new DbSession(connection, transaction) { Tenant = tenant }, retention, routed, idempotencyKey, Fingerprint.Of(method, path, body),
            cancellationToken);
        if (keep)
        {
            await transaction.CommitAsync(cancellationToken);
        }
        else
        {
            await transaction.RollbackAsync(cancellationToken);
        }

        return response;
    }

    /// <summary>An answer known before touching the database: a routing answer or an over-long key.</summary>
    private ResourceResponse? Precheck(RoutedOperation routed, string? idempotencyKey) =>
        routed.Immediate ?? (idempotencyKey is null ? null
            : idempotencyKey.Length > options.Value.MaxKeyLength ? KeyProblem($"Must be at most {options.Value.MaxKeyLength} characters; got {idempotencyKey.Length}.")
            : StorableText.Problem(idempotencyKey) is { } problem ? KeyProblem(problem)
            : null);

    private static ResourceResponse KeyProblem(string message) =>
        Problems.Validation(new Dictionary<string, string[]> { ["idempotencyKey"] = [message] });

    /// <summary>
    /// Runs one keyed write inside the caller's transaction. <c>Keep</c> says whether its effect and record are
    /// to be committed; otherwise the caller rolls back (the transaction, or the item's savepoint).
    /// </summary>
    private async Task<(ResourceResponse Response, bool Keep)> RunKeyedAsync(
        DbSession session, TimeSpan retention, RoutedOperation routed, string key, byte[] fingerprint, CancellationToken cancellationToken)
    {
        var claim = await session.Connection.QuerySingleAsync<Claim>(session.TenantCommand(ClaimSql, new { Key = key }, cancellationToken));
        if (!claim.Locked)
        {
            return (Problems.KeyInFlight(key), false);
        }

        if (claim.Fingerprint is not null)
        {
            return (claim.Fingerprint.AsSpan().SequenceEqual(fingerprint)
                ? new ResourceResponse(claim.Status!.Value, claim.Result, claim.Location)
                : Problems.KeyReused(key), false);
        }

        var response = await routed.Run!(session, cancellationToken);
        if (response.Status is < 200 or >= 300)
        {
            return (response, false);
        }

        await RecordAsync(session, retention, [(key, fingerprint, response)], cancellationToken);
        return (response, true);
    }

    private static Task RecordAsync(
        DbSession session, TimeSpan retention, IReadOnlyList<(string Key, byte[] Fingerprint, ResourceResponse Response)> records, CancellationToken cancellationToken) =>
        session.Connection.ExecuteAsync(session.TenantCommand(RecordSql, new
        {
            Keys = records.Select(r => r.Key).ToArray(),
            Fingerprints = records.Select(r => r.Fingerprint).ToArray(),
            Statuses = records.Select(r => (short)r.Response.Status).ToArray(),
            Results = records.Select(r => r.Response.Body).ToArray(),
            Locations = records.Select(r => r.Response.Location).ToArray(),
            Retention = retention,
        }, cancellationToken));

    /// <summary>
    /// How long <paramref name="tenant"/>'s keys answer: its own idempotency retention, read before any connection is
    /// taken (a read may be a grain call), or <c>Idempotency:Retention</c> for a tenant the cluster does not know.
    /// </summary>
    private async ValueTask<TimeSpan> RetentionAsync(string tenant, CancellationToken cancellationToken) =>
        (await quotas.GetAsync(tenant, cancellationToken))?.IdempotencyRetention ?? options.Value.Retention;

    private sealed record Claim(bool Locked, byte[]? Fingerprint, short? Status, string? Result, string? Location);
}
