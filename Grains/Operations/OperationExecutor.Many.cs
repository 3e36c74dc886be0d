using Dapper;
using Npgsql;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Idempotency;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Resources;

namespace Orleans.Batch.Grains.Operations;

public sealed partial class OperationExecutor
{
    /// <summary>Savepoints per transaction; more would overflow PostgreSQL's per-backend subtransaction cache.</summary>
    private const int SavepointsPerTransaction = 64;

    private const string ClaimManySql = """
        SELECT k.ord AS Ord, pg_try_advisory_xact_lock(hashtextextended(k.key, hashtext(@Tenant))) AS Locked,
               r.fingerprint AS Fingerprint, r.status AS Status, r.result AS Result, r.location AS Location
        FROM unnest(@Ords, @Keys) AS k(ord, key)
        LEFT JOIN idempotency_records r ON r.tenant_id = @Tenant AND r.key = k.key AND r.expires_at > now()
        """;

    /// <summary>
    /// Runs a chunk of operations on one connection, answering each exactly as <see cref="ExecuteAsync"/> would.
    /// Creates, updates (PUT and PATCH alike), and deletes, of one resource run as one set-based statement each, in one
    /// transaction with their idempotency records;
    /// everything else, and any set whose statement fails as a whole, runs one by one with a savepoint each, so
    /// no item fails its neighbours. Like the items of a batch, the items of a chunk may run in any order.
    /// </summary>
    public async Task<IReadOnlyList<ResourceResponse>> ExecuteManyAsync(
        string tenant, IReadOnlyList<OperationRequest> operations, CancellationToken cancellationToken) =>
        (await ExecuteManyAsync(tenant, operations, null, cancellationToken)).Responses;

    /// <summary>
    /// As above; with a <paramref name="ledger"/>, the operations are items of a batch, and each write commits with
    /// its result row (see <see cref="ItemLedger"/>). <c>Recorded</c>[i] says the i-th result is stored.
    /// </summary>
    public async Task<ChunkAnswers> ExecuteManyAsync(
        string tenant, IReadOnlyList<OperationRequest> operations, ItemLedger? ledger, CancellationToken cancellationToken)
    {
        var responses = new ResourceResponse?[operations.Count];
        var recorded = new bool[operations.Count];
        var routed = new RoutedOperation[operations.Count];
        for (var i = 0; i < operations.Count; i++)
        {
            routed[i] = router.Route(operations[i].Method, operations[i].Path, operations[i].Body);
            responses[i] = Precheck(routed[i], operations[i].IdempotencyKey);
        }

        if (Array.TrueForAll(responses, r => r is not null))
        {
            return new ChunkAnswers(responses!, recorded);
        }

        var keyed = Enumerable.Range(0, operations.Count).Any(i => responses[i] is null && operations[i].IdempotencyKey is not null && routed[i].Mutates);
        var run = new TenantRun(tenant, keyed ? await RetentionAsync(tenant, cancellationToken) : default);
        using var slot = await gate.EnterAsync(operations[0].BatchId, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (ledger is { Resent: true })
        {
            var unanswered = Enumerable.Range(0, operations.Count).Where(i => responses[i] is null).ToList();
            foreach (var (i, stored) in await ledger.ReadFinishedAsync(new DbSession(connection) { Tenant = tenant }, unanswered, RenderCreated(operations), cancellationToken))
            {
                (responses[i], recorded[i]) = (stored, true);
            }
        }

        // A key repeated in the chunk runs after its first use, one by one, to answer as it would in sequence.
        var firstUses = new HashSet<string>(StringComparer.Ordinal);
        var sets = Enumerable.Range(0, operations.Count)
            .Where(i => responses[i] is null && SetOf(routed[i]) is not null
                && (operations[i].IdempotencyKey is not { } key || firstUses.Add(key)))
            .ToList()
            .GroupBy(i => SetOf(routed[i])!.Value);
        foreach (var group in sets)
        {
            var statement = Statement(group.Key.Handler, group.Key.Kind, routed, cancellationToken);
            await TrySetAsync(connection, run, [.. group], statement, operations, ledger, responses, recorded, cancellationToken);
        }

        var rest = Enumerable.Range(0, operations.Count).Where(i => responses[i] is null).ToList();
        foreach (var slice in rest.Chunk(SavepointsPerTransaction))
        {
            await RunWithSavepointsAsync(connection, run, slice, operations, routed, ledger, responses, recorded, cancellationToken);
        }

        return new ChunkAnswers(responses!, recorded);
    }

    /// <summary>
    /// Runs one set-based statement over <paramref name="indices"/> in one transaction with their idempotency
    /// records and item results; leaves every item unanswered (for the one-by-one path) when the statement fails as a
    /// whole, or when another run finished one of its items first.
    /// </summary>
    private static async Task TrySetAsync(
        NpgsqlConnection connection, TenantRun run, IReadOnlyList<int> indices,
        Func<DbSession, IReadOnlyList<int>, Task<IReadOnlyList<ResourceResponse>?>> statement,
        IReadOnlyList<OperationRequest> operations, ItemLedger? ledger, ResourceResponse?[] responses, bool[] recorded,
        CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var session = new DbSession(connection, transaction) { Tenant = run.Tenant };
        var answers = new Dictionary<int, ResourceResponse>();
        try
        {
            var keyed = indices.Where(i => operations[i].IdempotencyKey is not null).ToArray();
            var claims = keyed.Length == 0
                ? []
                : (await connection.QueryAsync<ManyClaim>(session.TenantCommand(
                    ClaimManySql, new { Ords = keyed, Keys = keyed.Select(i => operations[i].IdempotencyKey!).ToArray() }, cancellationToken)))
                    .ToDictionary(c => c.Ord);
            var toRun = new List<int>(indices.Count);
            foreach (var i in indices)
            {
                if (!claims.TryGetValue(i, out var claim))
                {
                    toRun.Add(i);
                }
                else if (!claim.Locked)
                {
                    answers[i] = Problems.KeyInFlight(operations[i].IdempotencyKey!);
                }
                else if (claim.Fingerprint is not null)
                {
                    answers[i] = claim.Fingerprint.AsSpan().SequenceEqual(FingerprintOf(operations[i]))
                        ? new ResourceResponse(claim.Status!.Value, claim.Result, claim.Location)
                        : Problems.KeyReused(operations[i].IdempotencyKey!);
                }
                else
                {
                    toRun.Add(i);
                }
            }

            if (toRun.Count > 0)
            {
                var answered = await statement(session, toRun);
                if (answered is null)
                {
                    await transaction.RollbackAsync(cancellationToken);
                    return;
                }

                var records = new List<(string, byte[], ResourceResponse)>();
                for (var j = 0; j < toRun.Count; j++)
                {
                    var i = toRun[j];
                    answers[i] = answered[j];
                    if (operations[i].IdempotencyKey is { } key && answered[j].Status is >= 200 and < 300)
                    {
                        records.Add((key, FingerprintOf(operations[i]), answered[j]));
                    }
                }

                if (records.Count > 0)
                {
                    await RecordAsync(session, run.Retention, records, cancellationToken);
                }

                if (ledger is not null && !await ledger.TryRecordAsync(session, toRun, answered, cancellationToken))
                {
                    await transaction.RollbackAsync(cancellationToken);
                    return;
                }
            }

            await transaction.CommitAsync(cancellationToken);
            if (ledger is not null)
            {
                toRun.ForEach(i => recorded[i] = true);
            }
        }
        catch (PostgresException e) when (!DatabaseAvailability.IsUnavailable(e))
        {
            // The set failed as a whole: every item runs on its own instead. (A lost database fails the chunk: nothing of it ran.)
            await transaction.RollbackAsync(CancellationToken.None);
            if (PreparedStatements.MayBeBroken(e))
            {
                PreparedStatements.Forget(connection);
            }

            return;
        }

        foreach (var (i, answer) in answers)
        {
            responses[i] = answer;
        }
    }

    private async Task RunWithSavepointsAsync(
        NpgsqlConnection connection, TenantRun run, IReadOnlyList<int> indices, IReadOnlyList<OperationRequest> operations,
        RoutedOperation[] routed, ItemLedger? ledger, ResourceResponse?[] responses, bool[] recorded, CancellationToken cancellationToken)
    {
        const string savepoint = "item";
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var session = new DbSession(connection, transaction) { Tenant = run.Tenant };
        foreach (var i in indices)
        {
            await transaction.SaveAsync(savepoint, cancellationToken);
            ResourceResponse response;
            bool keep;
            var statementBroken = false;
            try
            {
                if (operations[i].IdempotencyKey is { } key && routed[i].Mutates)
                {
                    (response, keep) = await RunKeyedAsync(session, run.Retention, routed[i], key, FingerprintOf(operations[i]), cancellationToken);
                }
                else
                {
                    response = await routed[i].Run!(session, cancellationToken);
                    keep = response.Status is >= 200 and < 300;
                }
            }
            catch (PostgresException e) when (!DatabaseAvailability.IsUnavailable(e))
            {
                response = Problems.Internal($"The operation failed in the database ({e.SqlState}).");
                keep = false;
                statementBroken = PreparedStatements.MayBeBroken(e);
            }

            if (!keep)
            {
                await transaction.RollbackAsync(savepoint, cancellationToken);
                if (statementBroken)
                {
                    // The next item may run the statement that failed, on this very connection.
                    PreparedStatements.Forget(connection);
                }
            }

            if (ledger is not null && routed[i].Mutates)
            {
                if (await ledger.TryRecordAsync(session, [i], [response], cancellationToken))
                {
                    recorded[i] = true;
                }
                else
                {
                    // Another run finished the item first: its answer stands, and this run's effect is undone. (No row
                    // at all: the batch is gone, which only happens to a batch that never started.)
                    await transaction.RollbackAsync(savepoint, cancellationToken);
                    var stored = await ledger.ReadFinishedAsync(session, [i], RenderCreated(operations), cancellationToken);
                    (response, keep) = (stored.GetValueOrDefault(i) ?? Problems.Cancelled(), false);
                    recorded[i] = true;
                }
            }

            if (keep)
            {
                await transaction.ReleaseAsync(savepoint, cancellationToken);
            }

            responses[i] = response;
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The set-based statement an operation could join, by resource and kind; null when it runs on its own.</summary>
    private static (IResourceHandler Handler, SetKind Kind)? SetOf(RoutedOperation routed) =>
        routed.Creates is { } create ? (create.Handler, SetKind.Create)
        : routed.Updates is { } update ? (update.Handler, SetKind.Update)
        : routed.Deletes is { } delete ? (delete.Handler, SetKind.Delete)
        : null;

    private static Func<DbSession, IReadOnlyList<int>, Task<IReadOnlyList<ResourceResponse>?>> Statement(
        IResourceHandler handler, SetKind kind, RoutedOperation[] routed, CancellationToken cancellationToken) => kind switch
        {
            SetKind.Create => (session, items) =>
                handler.CreateManyAsync(session, [.. items.Select(i => routed[i].Creates!.Value.Body)], cancellationToken),
            SetKind.Update => (session, items) =>
                handler.UpdateManyAsync(session, [.. items.Select(i => routed[i].Updates!.Value.Update)], cancellationToken),
            _ => async (session, items) =>
                await handler.DeleteManyAsync(session, [.. items.Select(i => routed[i].Deletes!.Value.Id)], cancellationToken),
        };

    /// <summary>Renders the stored answer of a staged create, the operation at the given index, from its row's id and time.</summary>
    private Func<int, long, DateTime, ResourceResponse> RenderCreated(IReadOnlyList<OperationRequest> operations) =>
        (i, id, createdAt) => router.RenderCreated(operations[i].Method, operations[i].Path, operations[i].Body, id, createdAt);

    private static byte[] FingerprintOf(OperationRequest operation) => Fingerprint.Of(operation.Method, operation.Path, operation.Body);

    /// <summary>What each operation of a chunk answered, and whether its result is already stored in its batch item.</summary>
    public sealed record ChunkAnswers(IReadOnlyList<ResourceResponse> Responses, IReadOnlyList<bool> Recorded);

    private enum SetKind
    {
        Create,
        Update,
        Delete,
    }

    /// <summary>What a chunk's statements run for: its tenant, and how long the keys it records answer.</summary>
    private sealed record TenantRun(string Tenant, TimeSpan Retention);

    private sealed record ManyClaim(int Ord, bool Locked, byte[]? Fingerprint, short? Status, string? Result, string? Location);
}
