using System.Text.Json;
using Dapper;
using Npgsql;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Resources;
using Orleans.Batch.Grains.Resources.Orders;
using Orleans.Batch.Grains.Resources.Products;
using Orleans.Batch.Grains.Resources.Users;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Grains;

/// <summary>
/// Every schema script (deploy/sql) over a database of the version before tenants, with resources and an idempotency
/// record in it: the rows become the default tenant's, readable by it alone, and values are unique per tenant from then
/// on. Each test has a database of its own.
/// </summary>
public sealed class ResourceSchemaMigrationTests : IAsyncLifetime
{
    private const string Other = "other";

    /// <summary>The resources and idempotency records as the version before tenants created them.</summary>
    private const string PreTenantSchema = """
        CREATE TABLE users (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email varchar(254) NOT NULL, name varchar(200) NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now());
        CREATE UNIQUE INDEX ux_users_email ON users (lower(email));
        CREATE TABLE products (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sku varchar(64) NOT NULL CONSTRAINT ux_products_sku UNIQUE,
            name varchar(200) NOT NULL, price numeric NOT NULL CONSTRAINT ck_products_price CHECK (price >= 0));
        CREATE TABLE orders (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            user_id bigint NOT NULL CONSTRAINT fk_orders_user REFERENCES users (id),
            product_id bigint NOT NULL CONSTRAINT fk_orders_product REFERENCES products (id),
            quantity integer NOT NULL CONSTRAINT ck_orders_quantity CHECK (quantity >= 1),
            status varchar(20) NOT NULL DEFAULT 'pending'
                CONSTRAINT ck_orders_status CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
            created_at timestamptz NOT NULL DEFAULT now());
        CREATE INDEX ix_orders_user ON orders (user_id);
        CREATE INDEX ix_orders_product ON orders (product_id);
        CREATE TABLE idempotency_records (
            key text PRIMARY KEY, fingerprint bytea NOT NULL, status smallint NOT NULL, result text, location text,
            created_at timestamptz NOT NULL DEFAULT now(), expires_at timestamptz NOT NULL);
        CREATE INDEX ix_idempotency_records_expires ON idempotency_records (expires_at);
        """;

    private const string PreTenantRows = """
        INSERT INTO users (email, name) SELECT format('u%s@example.com', s), 'User ' || s FROM generate_series(1, 3) AS s;
        INSERT INTO products (sku, name, price) VALUES ('SKU-1', 'One', 1), ('SKU-2', 'Two', 2);
        INSERT INTO orders (user_id, product_id, quantity) VALUES (1, 1, 1), (2, 2, 5);
        INSERT INTO idempotency_records (key, fingerprint, status, result, location, expires_at)
        VALUES ('old-key', '\x01', 201, '{"id":1}', '/users/1', now() + interval '1 hour');
        """;

    private ScratchDatabase _scratch = null!;

    private NpgsqlDataSource Source => _scratch.Source;

    public async Task InitializeAsync()
    {
        _scratch = await ScratchDatabase.CreateAsync("migrate");
        await ExecuteAsync(PreTenantSchema);
        await ExecuteAsync(PreTenantRows);
        await ApplySchemaAsync();
    }

    public async Task DisposeAsync() => await _scratch.DisposeAsync();

    [Fact]
    public async Task Apply_OverPreTenantTables_RowsAreTheDefaultTenants_AndReadableByItAlone()
    {
        await using var connection = await Source.OpenConnectionAsync();
        Assert.Equal(
            [(TenantContext.Default, 3L), (TenantContext.Default, 2L), (TenantContext.Default, 2L), (TenantContext.Default, 1L)],
            await connection.QueryAsync<(string, long)>("""
                SELECT tenant_id, count(*) FROM users GROUP BY tenant_id UNION ALL
                SELECT tenant_id, count(*) FROM products GROUP BY tenant_id UNION ALL
                SELECT tenant_id, count(*) FROM orders GROUP BY tenant_id UNION ALL
                SELECT tenant_id, count(*) FROM idempotency_records GROUP BY tenant_id
                """));
        var asDefault = new DbSession(connection) { Tenant = TenantContext.Default };
        var asOther = new DbSession(connection) { Tenant = Other };

        foreach (var (handler, id, field, value) in new (IResourceHandler, long, string, object)[]
        {
            (new UserHandler(), 2, "email", "u2@example.com"), (new ProductHandler(), 1, "sku", "SKU-1"), (new OrderHandler(), 2, "quantity", 5),
        })
        {
            var read = await handler.GetAsync(asDefault, id, CancellationToken.None);
            Assert.Equal(200, read.Status);
            Assert.Equal(value.ToString(), JsonDocument.Parse(read.Body!).RootElement.GetProperty(field).ToString());
            Assert.Equal(404, (await handler.GetAsync(asOther, id, CancellationToken.None)).Status);
            Assert.Equal(404, (await handler.DeleteAsync(asOther, id, CancellationToken.None)).Status);
            var listing = await handler.ListAsync(asOther, new Dictionary<string, string>(), CancellationToken.None);
            Assert.Empty(JsonDocument.Parse(listing.Body!).RootElement.GetProperty("items").EnumerateArray());
        }
    }

    [Fact]
    public async Task Apply_OverPreTenantTables_ValuesAndReferencesArePerTenant()
    {
        await using var connection = await Source.OpenConnectionAsync();
        var asDefault = new DbSession(connection) { Tenant = TenantContext.Default };
        var asOther = new DbSession(connection) { Tenant = Other };
        var (users, products, orders) = (new UserHandler(), new ProductHandler(), new OrderHandler());

        Assert.Equal(409, (await users.CreateAsync(asDefault, Body(new { email = "U1@example.com", name = "Again" }), CancellationToken.None)).Status);
        Assert.Equal(201, (await users.CreateAsync(asOther, Body(new { email = "U1@example.com", name = "Other's" }), CancellationToken.None)).Status);
        Assert.Equal(409, (await products.CreateAsync(asDefault, Body(new { sku = "SKU-2", name = "Again", price = 1 }), CancellationToken.None)).Status);
        var othersProduct = await products.CreateAsync(asOther, Body(new { sku = "SKU-2", name = "Other's", price = 1 }), CancellationToken.None);
        Assert.Equal(201, othersProduct.Status);
        var othersProductId = JsonDocument.Parse(othersProduct.Body!).RootElement.GetProperty("id").GetInt64();

        // The default tenant's user 1 is no user of the other tenant, and the other's product no product of the default.
        Assert.Equal(422, (await orders.CreateAsync(asOther, Body(new { userId = 1, productId = othersProductId, quantity = 1 }), CancellationToken.None)).Status);
        Assert.Equal(422, (await orders.CreateAsync(asDefault, Body(new { userId = 1, productId = othersProductId, quantity = 1 }), CancellationToken.None)).Status);
        Assert.Equal(201, (await orders.CreateAsync(asDefault, Body(new { userId = 1, productId = 2, quantity = 1 }), CancellationToken.None)).Status);

        // The key is the default tenant's: taken there, free in another.
        await connection.ExecuteAsync(
            "INSERT INTO idempotency_records (tenant_id, key, fingerprint, status, expires_at) VALUES (@Other, 'old-key', '\\x02', 201, now() + interval '1 hour')",
            new { Other });
        var taken = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync(
            "INSERT INTO idempotency_records (tenant_id, key, fingerprint, status, expires_at) VALUES ('default', 'old-key', '\\x02', 201, now() + interval '1 hour')"));
        Assert.Equal(PostgresErrorCodes.UniqueViolation, taken.SqlState);
    }

    [Fact]
    public async Task Apply_Again_ChangesNothing_AndNoInsertCanLeaveTheTenantOut()
    {
        const string Shape = """
            SELECT string_agg(format('%s.%s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)), E'\n' ORDER BY conrelid::regclass::text, conname)
            FROM pg_constraint WHERE conrelid IN ('users'::regclass, 'products'::regclass, 'orders'::regclass, 'idempotency_records'::regclass)
            """;
        await using var connection = await Source.OpenConnectionAsync();
        var before = await connection.ExecuteScalarAsync<string>(Shape);

        await ApplySchemaAsync();

        Assert.Equal(before, await connection.ExecuteScalarAsync<string>(Shape));
        Assert.Equal(3, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM users"));
        var untenanted = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync("INSERT INTO users (email, name) VALUES ('new@example.com', 'New')"));
        Assert.Equal(PostgresErrorCodes.NotNullViolation, untenanted.SqlState);
    }

    private static JsonElement Body(object body) => JsonSerializer.SerializeToElement(body);

    private async Task ApplySchemaAsync()
    {
        foreach (var script in SchemaScripts.All())
        {
            await ExecuteAsync(await File.ReadAllTextAsync(script));
        }
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = Source.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
