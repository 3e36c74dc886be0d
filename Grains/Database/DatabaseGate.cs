using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Fairness;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Grains.Database;

/// <summary>
/// Bounds the resource statements one silo runs at once below the connection pool size, and the large ones among them
/// (<see cref="DatabaseOptions.MaxLargeStatements"/>) below its cores. While statements wait, tenants take turns by
/// weight and a tenant's batches in turn (<see cref="FairGate"/>), each acting for the call's tenant.
/// </summary>
public sealed class DatabaseGate(IOptions<DatabaseOptions> options, ITenantWeights? weights = null)
{
    private readonly FairGate _gate = new(options.Value.MaxConcurrency, weights is null ? null : weights.WeightOf);

    private readonly FairGate _large = new(
        Math.Min(options.Value.MaxLargeStatements, options.Value.MaxConcurrency), weights is null ? null : weights.WeightOf);

    public int Capacity => _gate.Capacity;

    public int InUse => _gate.InUse;

    /// <summary>Waits for a place for a statement of the call's tenant.</summary>
    public ValueTask<FairGate.Pass> EnterAsync(CancellationToken cancellationToken) => EnterAsync(null, cancellationToken);

    /// <summary>
    /// Waits for a place for a statement of the call's tenant on behalf of <paramref name="holder"/> (a batch), which then
    /// takes turns with the tenant's other batches rather than queueing behind them.
    /// </summary>
    public ValueTask<FairGate.Pass> EnterAsync(string? holder, CancellationToken cancellationToken)
    {
        var tenant = TenantContext.Current ?? FairGate.NoTenant;
        return _gate.EnterAsync(tenant, holder ?? tenant, cancellationToken);
    }

    /// <summary>
    /// Waits for a place for a statement of <paramref name="rows"/> rows (a chunk of staged creates, a slice stored) of
    /// batch <paramref name="holder"/> of <paramref name="tenant"/>, when it is large; a small one passes at once, yet
    /// counts its tenant active, so another tenant's large statements then keep to their share of the places.
    /// The statement itself then enters like any other.
    /// </summary>
    public ValueTask<FairGate.Pass> EnterLargeAsync(string tenant, string holder, int rows, CancellationToken cancellationToken) =>
        _large.EnterAsync(tenant, holder, cancellationToken, small: rows <= options.Value.LargeStatementRows);
}
