using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Grains.Tenancy;

/// <summary>
/// One tenant: its quotas, the configured defaults with its stored overrides laid over. The only writer of its row, so
/// it keeps the row in memory once read; an id with no row is read again on every call (it may be created meanwhile).
/// </summary>
public sealed partial class TenantGrain(IOptions<TenantQuotaOptions> defaults, TenantStore store, ILogger<TenantGrain> logger) : Grain, ITenantGrain
{
    private TenantRow? _row;

    private string Id => this.GetPrimaryKeyString();

    public async Task<TenantQuotas?> GetQuotasAsync(CancellationToken cancellationToken = default) =>
        (await GetQuotaSettingsAsync(cancellationToken))?.Effective;

    public async Task<TenantInfo?> CreateAsync(string name, CancellationToken cancellationToken = default)
    {
        if (!TenantContext.IsValidId(Id))
        {
            throw new ArgumentException($"'{Id}' is not a tenant id.", nameof(Id));
        }

        if (await RowAsync(cancellationToken) is not null)
        {
            return null;
        }

        _row = await store.InsertTenantAsync(Id, name, cancellationToken);
        if (_row is not null)
        {
            LogCreated(Id);
        }

        return _row?.Info;
    }

    public async Task<TenantQuotaSettings?> GetQuotaSettingsAsync(CancellationToken cancellationToken = default) =>
        await RowAsync(cancellationToken) is { } row ? Settings(row) : null;

    public async Task<TenantQuotaSettings?> SetQuotasAsync(TenantQuotaOverrides overrides, CancellationToken cancellationToken = default)
    {
        if (overrides.Problems().FirstOrDefault() is { Field: not null } problem)
        {
            throw new ArgumentException($"{problem.Field} {problem.Problem}.", nameof(overrides));
        }

        if (await RowAsync(cancellationToken) is null)
        {
            return null;
        }

        _row = await store.SetOverridesAsync(Id, overrides, cancellationToken);
        LogQuotasSet(Id, overrides);
        return _row is null ? null : Settings(_row);
    }

    private async Task<TenantRow?> RowAsync(CancellationToken cancellationToken) =>
        _row ??= TenantContext.IsValidId(Id) ? await store.GetTenantAsync(Id, cancellationToken) : null;

    private TenantQuotaSettings Settings(TenantRow row) => new(row.Overrides.Over(defaults.Value.ToQuotas()), row.Overrides);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "Tenant {Tenant} created")]
    private partial void LogCreated(string tenant);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "Quota overrides of tenant {Tenant} set to {Overrides}")]
    private partial void LogQuotasSet(string tenant, TenantQuotaOverrides overrides);
}
