using System.Net;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Gateway.Security;

/// <summary>The operator's API: tenants, keys and quotas.</summary>
[Collection(ClusterCollection.Name)]
public sealed class AdminEndpointsTests(ClusterFixture fixture)
{
    private async Task<BatchApi> AdminAsync() => new(await fixture.ClientForAsync(null, ApiRoles.Admin));

    private static string NewTenantId() => $"a-{Unique.Token()}";

    [Fact]
    public async Task CreateTenant_Returns201_ListsIt_AndASecondTimeIs409()
    {
        var admin = await AdminAsync();
        var id = NewTenantId();

        var created = ApiAssert.Json(await admin.PostAsync("/admin/tenants", new { id, name = "Acme" }), HttpStatusCode.Created);
        var again = await admin.PostAsync("/admin/tenants", new { id, name = "Acme" });
        var list = ApiAssert.Json(await admin.GetAsync("/admin/tenants"), HttpStatusCode.OK);

        Assert.Equal(id, created.GetProperty("id").GetString());
        Assert.Equal("Acme", created.GetProperty("name").GetString());
        ApiAssert.Problem(again, HttpStatusCode.Conflict, "tenant-exists");
        Assert.Contains(list.EnumerateArray(), t => t.GetProperty("id").GetString() == id);
        Assert.Contains(list.EnumerateArray(), t => t.GetProperty("id").GetString() == TenantContext.Default);
    }

    [Theory]
    [InlineData("{\"id\":\"Not_Valid\"}", "id")]
    [InlineData("{\"id\":\"-x\"}", "id")]
    [InlineData("{}", "id")]
    [InlineData("{\"id\":42}", "id")]
    [InlineData("{\"id\":\"ok-id\",\"name\":\"\"}", "name")]
    [InlineData("{\"id\":\"ok-id\",\"nmae\":\"typo\"}", "nmae")]
    public async Task CreateTenant_Invalid_Returns400NamingTheField(string body, string field)
    {
        var admin = await AdminAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/tenants") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };

        ApiAssert.Problem(await admin.SendAsync(request), HttpStatusCode.BadRequest, "validation", field);
    }

    [Fact]
    public async Task CreateKey_ShowsTheKeyOnce_ItWorks_AndTheListingNeverShowsIt()
    {
        var admin = await AdminAsync();
        var tenant = await fixture.CreateTenantAsync();

        var created = ApiAssert.Json(await admin.PostAsync($"/admin/tenants/{tenant}/keys", new { role = "writer" }), HttpStatusCode.Created);
        var key = created.GetProperty("key").GetString()!;
        var keyId = created.GetProperty("keyId").GetString()!;
        var listing = await admin.GetAsync($"/admin/tenants/{tenant}/keys");
        var keys = ApiAssert.Json(listing, HttpStatusCode.OK);

        Assert.Equal(tenant, created.GetProperty("tenant").GetString());
        Assert.Equal("writer", created.GetProperty("role").GetString());
        Assert.True(ApiKeys.TryParse(key, out var parsedId));
        Assert.Equal(keyId, parsedId);
        var listed = Assert.Single(keys.EnumerateArray());
        Assert.Equal(keyId, listed.GetProperty("keyId").GetString());
        Assert.Equal("writer", listed.GetProperty("role").GetString());
        Assert.True(listed.TryGetProperty("createdAt", out _));
        Assert.DoesNotContain(key[(ApiKeys.Prefix.Length + ApiKeys.KeyIdLength + 1)..], listing.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("hash", listing.Text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\"key\"", listing.Text, StringComparison.Ordinal);
        var user = await new BatchApi(fixture.NewClient(key: key)).PostAsync("/users", new { email = Unique.Email("admin-key"), name = "Key" });
        Assert.Equal(HttpStatusCode.Created, user.Status);
    }

    [Fact]
    public async Task CreateKey_UnknownTenant_Returns404_BadRole400()
    {
        var admin = await AdminAsync();

        ApiAssert.Problem(await admin.PostAsync($"/admin/tenants/{NewTenantId()}/keys", new { role = "reader" }), HttpStatusCode.NotFound, "tenant-not-found");
        ApiAssert.Problem(await admin.GetAsync($"/admin/tenants/{NewTenantId()}/keys"), HttpStatusCode.NotFound, "tenant-not-found");
        ApiAssert.Problem(await admin.PostAsync($"/admin/tenants/{fixture.Tenant}/keys", new { role = "admin" }), HttpStatusCode.BadRequest, "validation", "role");
        ApiAssert.Problem(await admin.PostAsync($"/admin/tenants/{fixture.Tenant}/keys", new { role = "owner" }), HttpStatusCode.BadRequest, "validation", "role");
        ApiAssert.Problem(await admin.PostAsync($"/admin/tenants/{fixture.Tenant}/keys", new { role = "reader", extra = 1 }), HttpStatusCode.BadRequest, "validation", "extra");
    }

    [Fact]
    public async Task AdminKey_IsCreatedThroughAdminKeys_AndWorks()
    {
        var admin = await AdminAsync();

        var created = ApiAssert.Json(await admin.PostAsync("/admin/keys", new { role = "admin" }), HttpStatusCode.Created);
        var other = new BatchApi(fixture.NewClient(key: created.GetProperty("key").GetString()));

        Assert.False(created.TryGetProperty("tenant", out _));
        ApiAssert.Json(await other.GetAsync("/admin/tenants"), HttpStatusCode.OK);
        ApiAssert.Problem(await admin.PostAsync("/admin/keys", new { role = "writer" }), HttpStatusCode.BadRequest, "validation", "role");
    }

    [Fact]
    public async Task RevokeKey_Returns204_ListsRevokedAt_AndUnknownIs404()
    {
        var admin = await AdminAsync();
        var tenant = await fixture.CreateTenantAsync();
        var key = await fixture.CreateKeyAsync(tenant, ApiRoles.Reader);

        ApiAssert.Empty(await admin.DeleteAsync($"/admin/keys/{key.Info.KeyId}"), HttpStatusCode.NoContent);
        ApiAssert.Empty(await admin.DeleteAsync($"/admin/keys/{key.Info.KeyId}"), HttpStatusCode.NoContent);
        var listed = Assert.Single(ApiAssert.Json(await admin.GetAsync($"/admin/tenants/{tenant}/keys"), HttpStatusCode.OK).EnumerateArray());

        Assert.True(listed.TryGetProperty("revokedAt", out _));
        ApiAssert.Problem(await admin.DeleteAsync($"/admin/keys/{ApiKeys.NewKeyId()}"), HttpStatusCode.NotFound, "key-not-found");
        ApiAssert.Problem(await admin.DeleteAsync("/admin/keys/not-a-key-id"), HttpStatusCode.NotFound, "key-not-found");
        Assert.Null(await fixture.Grains.GetGrain<IApiKeyGrain>(key.Info.KeyId).VerifyAsync(ApiKeys.Hash(key.Key)));
    }

    [Fact]
    public async Task PutQuotas_OverridesThenClears_AndTheTenantGrainAnswersThem()
    {
        var admin = await AdminAsync();
        var tenant = await fixture.CreateTenantAsync();
        var defaults = (await fixture.Grains.GetGrain<ITenantGrain>(TenantContext.Default).GetQuotasAsync())!;

        var set = ApiAssert.Json(await admin.PutAsync($"/admin/tenants/{tenant}/quotas",
            new { burst = 7, requestsPerSecond = 2.5, retention = "2.00:00:00", weight = 3 }), HttpStatusCode.OK);
        var quotas = (await fixture.Grains.GetGrain<ITenantGrain>(tenant).GetQuotasAsync())!;
        var read = ApiAssert.Json(await admin.GetAsync($"/admin/tenants/{tenant}/quotas"), HttpStatusCode.OK);
        var cleared = ApiAssert.Json(await admin.PutAsync($"/admin/tenants/{tenant}/quotas", new { weight = 2 }), HttpStatusCode.OK);

        Assert.Equal(7, set.GetProperty("quotas").GetProperty("burst").GetInt32());
        Assert.Equal(7, set.GetProperty("overrides").GetProperty("burst").GetInt32());
        Assert.Equal(defaults.ActiveBatches, set.GetProperty("quotas").GetProperty("activeBatches").GetInt32());
        Assert.False(set.GetProperty("overrides").TryGetProperty("activeBatches", out _));
        Assert.Equal(defaults with { Burst = 7, RequestsPerSecond = 2.5, Retention = TimeSpan.FromDays(2), Weight = 3 }, quotas);
        Assert.Equal(set.GetRawText(), read.GetRawText());
        Assert.Equal(defaults.Burst, cleared.GetProperty("quotas").GetProperty("burst").GetInt32());
        Assert.Equal(defaults with { Weight = 2 }, await fixture.Grains.GetGrain<ITenantGrain>(tenant).GetQuotasAsync());
    }

    [Theory]
    [InlineData("{\"burst\":0}", "burst")]
    [InlineData("{\"weight\":1001}", "weight")]
    [InlineData("{\"requestsPerSecond\":-1}", "requestsPerSecond")]
    [InlineData("{\"retention\":\"00:00:10\"}", "retention")]
    [InlineData("{\"idempotencyRetention\":\"a week\"}", "idempotencyRetention")]
    [InlineData("{\"activeBatches\":1.5}", "activeBatches")]
    [InlineData("{\"importRows\":\"10\"}", "importRows")]
    [InlineData("{\"inFlight\":1}", "inFlight")]
    public async Task PutQuotas_Invalid_Returns400NamingTheField_AndChangesNothing(string body, string field)
    {
        var admin = await AdminAsync();
        var tenant = await fixture.CreateTenantAsync();
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/admin/tenants/{tenant}/quotas") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };

        ApiAssert.Problem(await admin.SendAsync(request), HttpStatusCode.BadRequest, "validation", field);
        var settings = await fixture.Grains.GetGrain<ITenantGrain>(tenant).GetQuotaSettingsAsync();
        Assert.Equal(new TenantQuotaOverrides(), settings!.Overrides);
    }

    [Fact]
    public async Task Quotas_OfAnUnknownTenant_Return404_AndTheGrainAnswersNull()
    {
        var admin = await AdminAsync();
        var tenant = NewTenantId();

        ApiAssert.Problem(await admin.GetAsync($"/admin/tenants/{tenant}/quotas"), HttpStatusCode.NotFound, "tenant-not-found");
        ApiAssert.Problem(await admin.PutAsync($"/admin/tenants/{tenant}/quotas", new { burst = 5 }), HttpStatusCode.NotFound, "tenant-not-found");
        Assert.Null(await fixture.Grains.GetGrain<ITenantGrain>(tenant).GetQuotasAsync());
        Assert.NotNull(await fixture.Grains.GetGrain<ITenantGrain>(TenantContext.Default).GetQuotasAsync());
    }

    [Fact]
    public async Task ATenantCreatedAfterItsIdWasAskedFor_Exists()
    {
        var tenant = NewTenantId();
        Assert.Null(await fixture.Grains.GetGrain<ITenantGrain>(tenant).GetQuotasAsync());

        ApiAssert.Json(await (await AdminAsync()).PostAsync("/admin/tenants", new { id = tenant }), HttpStatusCode.Created);

        Assert.NotNull(await fixture.Grains.GetGrain<ITenantGrain>(tenant).GetQuotasAsync());
        Assert.Equal(HttpStatusCode.OK, (await new BatchApi(await fixture.ClientForAsync(tenant, ApiRoles.Reader)).GetAsync("/users?limit=1")).Status);
    }
}
