using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Grains.Hosting;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>
/// One cluster for the whole suite: two silos on Redis membership and PostgreSQL storage, and the real gateway
/// on Kestrel in front of them, reached over HTTP. Its clients act for a tenant of its own (<see cref="Tenant"/>) with a
/// writer key; <see cref="ClientForAsync"/> gives clients of other tenants and roles.
/// </summary>
public class ClusterFixture : IAsyncLifetime
{
    public const int MaxOperations = 1000;

    private readonly int _silos;

    public ClusterFixture()
        : this(silos: 2)
    {
    }

    /// <param name="silos">How many silos to start.</param>
    /// <param name="siloConfigurator">The silo configurator type; it must build on <see cref="SiloConfigurator"/>.</param>
    /// <param name="gatewaySettings">Settings laid over the gateway's.</param>
    protected ClusterFixture(int silos, Type? siloConfigurator = null, IReadOnlyDictionary<string, string?>? gatewaySettings = null)
    {
        _silos = silos;
        SiloConfiguratorType = siloConfigurator ?? typeof(SiloConfigurator);
        _gatewaySettings = gatewaySettings ?? new Dictionary<string, string?>();
    }

    private readonly IReadOnlyDictionary<string, string?> _gatewaySettings;

    private Type SiloConfiguratorType { get; }

    private readonly List<WebApplication> _gateways = [];

    private readonly List<HttpClient> _clients = [];

    public TestCluster Cluster { get; private set; } = null!;

    public WebApplication Gateway { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    /// <summary>The tenant <see cref="Http"/> and every gateway client of <see cref="StartGatewayAsync"/> act for.</summary>
    public string Tenant { get; } = $"fx-{Guid.NewGuid():N}"[..15];

    /// <summary>A writer key of <see cref="Tenant"/>, which the fixture's clients send.</summary>
    public string WriterKey { get; private set; } = null!;

    /// <summary>The header line of <see cref="WriterKey"/>, for raw HTTP requests.</summary>
    public string AuthorizationLine => $"Authorization: Bearer {WriterKey}";

    public NpgsqlDataSource Database { get; } = NpgsqlDataSource.Create(TestEnvironment.Postgres);

    public IGrainFactory Grains => Cluster.GrainFactory;

    /// <summary>The Redis the gateway and the test client find the silos in; a fixture's silos must use the same one.</summary>
    protected virtual string RedisConnection => TestEnvironment.Redis;

    public virtual async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder((short)_silos);
        builder.Options.UseTestClusterMembership = false;
        builder.Options.ConnectionTransport = ConnectionTransportType.TcpSocket;
        builder.Options.ServiceId = $"batch-tests-{Guid.NewGuid():N}";
        builder.Options.SiloBuilderConfiguratorTypes.Add(SiloConfiguratorType.AssemblyQualifiedName!);
        builder.Properties[ClientConfigurator.RedisKey] = RedisConnection;
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();

        WriterKey = await InsertTenantWithKeyAsync();
        (Gateway, Http) = await StartGatewayAsync();
    }

    /// <summary>
    /// Another gateway in front of the same cluster, with <paramref name="settings"/> over the fixture's; the fixture
    /// stops it when it is disposed.
    /// </summary>
    public async Task<(WebApplication Gateway, HttpClient Http)> StartGatewayAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var overrides = new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["ConnectionStrings:Redis"] = RedisConnection,
            ["Orleans:ClusterId"] = Cluster.Options.ClusterId,
            ["Orleans:ServiceId"] = Cluster.Options.ServiceId,
            ["Batch:MaxOperations"] = MaxOperations.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in _gatewaySettings.Concat(settings ?? new Dictionary<string, string?>()))
        {
            overrides[key] = value;
        }

        var gateway = GatewayApp.Build(GatewayApp.CreateBuilder([], overrides));
        using var startTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await gateway.StartAsync(startTimeout.Token);
        _gateways.Add(gateway);
        var address = gateway.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        var http = NewClient(new Uri(address), WriterKey);
        return (gateway, http);
    }

    /// <summary>
    /// Stores <see cref="Tenant"/> and a writer key of it straight into the database, which the silos read when first
    /// asked: a fixture whose silos cannot reach the database still starts (its requests then answer 503).
    /// </summary>
    private async Task<string> InsertTenantWithKeyAsync()
    {
        var keyId = ApiKeys.NewKeyId();
        var key = ApiKeys.NewKey(keyId);
        await using var command = Database.CreateCommand("""
            INSERT INTO tenants (id, name) VALUES (@tenant, 'test fixture');
            INSERT INTO api_keys (key_id, tenant_id, role, hash) VALUES (@keyId, @tenant, 'writer', @hash)
            """);
        command.Parameters.AddWithValue("tenant", Tenant);
        command.Parameters.AddWithValue("keyId", keyId);
        command.Parameters.AddWithValue("hash", ApiKeys.Hash(key));
        await command.ExecuteNonQueryAsync();
        return key;
    }

    /// <summary>A new tenant with a unique id.</summary>
    public async Task<string> CreateTenantAsync()
    {
        var tenant = $"t-{Guid.NewGuid():N}"[..14];
        await Grains.GetGrain<ITenantGrain>(tenant).CreateAsync("test tenant");
        return tenant;
    }

    /// <summary>A new key of <paramref name="role"/> for <paramref name="tenant"/> (null for an admin key).</summary>
    public async Task<CreatedApiKey> CreateKeyAsync(string? tenant, string role) =>
        await Grains.GetGrain<ITenantAdminGrain>(0).CreateKeyAsync(tenant, role)
        ?? throw new InvalidOperationException($"Tenant {tenant} does not exist.");

    /// <summary>A client of the fixture's gateway that sends a new key of <paramref name="role"/> for <paramref name="tenant"/> (null: admin).</summary>
    public async Task<HttpClient> ClientForAsync(string? tenant, string role) =>
        NewClient(Http.BaseAddress!, (await CreateKeyAsync(tenant, role)).Key);

    /// <summary>A client of the fixture's gateway that sends <paramref name="key"/>, or no credential.</summary>
    public HttpClient NewClient(Uri? baseAddress = null, string? key = null)
    {
        var http = new HttpClient { BaseAddress = baseAddress ?? Http.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        if (key is not null)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        }

        _clients.Add(http);
        return http;
    }

    public virtual async Task DisposeAsync()
    {
        _clients.ForEach(client => client.Dispose());
        foreach (var gateway in _gateways)
        {
            await gateway.StopAsync();
            await gateway.DisposeAsync();
        }

        if (Cluster is not null)
        {
            await Cluster.StopAllSilosAsync();
            await Cluster.DisposeAsync();
        }

        await Database.DisposeAsync();
    }

    /// <summary>Configures a test silo exactly as Silo/Program.cs does, from <see cref="Configuration"/>.</summary>
    public class SiloConfigurator : ISiloConfigurator
    {
        protected virtual Microsoft.Extensions.Configuration.IConfiguration Configuration => TestEnvironment.SiloConfiguration;

        /// <summary>Adds the service to the silo; an override may add test-only Orleans settings after calling it.</summary>
        public virtual void Configure(ISiloBuilder siloBuilder) => siloBuilder.AddOrleansBatch(Configuration);
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public const string RedisKey = "BatchTests:Redis";

        public void Configure(Microsoft.Extensions.Configuration.IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.UseRedisClustering(configuration[RedisKey] ?? TestEnvironment.Redis);
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
