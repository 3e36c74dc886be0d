using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Gateway.Security;

/// <summary>Credentials at the gateway: who is let in (401), and what each role may do (403).</summary>
[Collection(ClusterCollection.Name)]
public sealed class AuthenticationTests(ClusterFixture fixture)
{
    /// <summary>Routes of a tenant's data, one per group.</summary>
    public static readonly TheoryData<string, string> TenantRoutes = new()
    {
        { "GET", "/users" },
        { "POST", "/users" },
        { "GET", "/products/1" },
        { "DELETE", "/orders/1" },
        { "POST", "/batch" },
        { "GET", "/batch/0123456789abcdef/status" },
        { "GET", "/batch/0123456789abcdef/results" },
        { "POST", "/batch/0123456789abcdef/cancel" },
        { "POST", "/batch/users/import" },
    };

    /// <summary>Every route of the admin API.</summary>
    public static readonly TheoryData<string, string> AdminRoutes = new()
    {
        { "GET", "/admin/tenants" },
        { "POST", "/admin/tenants" },
        { "GET", "/admin/tenants/default/keys" },
        { "POST", "/admin/tenants/default/keys" },
        { "GET", "/admin/tenants/default/quotas" },
        { "PUT", "/admin/tenants/default/quotas" },
        { "POST", "/admin/keys" },
        { "DELETE", "/admin/keys/0123456789ab" },
    };

    [Theory]
    [MemberData(nameof(TenantRoutes))]
    [MemberData(nameof(AdminRoutes))]
    [InlineData("GET", "/dashboard")]
    [InlineData("GET", "/no-such-route")]
    public async Task NoCredential_Returns401ProblemWithChallenge(string method, string path)
    {
        var response = await SendAsync(fixture.NewClient(), method, path);

        await AssertUnauthorizedAsync(response, presented: false);
    }

    [Theory]
    [InlineData("Authorization", "Bearer")]
    [InlineData("Authorization", "Basic dXNlcjpwYXNz")]
    [InlineData("Authorization", "Bearer not-a-key")]
    [InlineData("Authorization", "Bearer obk_0123456789ab_short")]
    [InlineData("Authorization", "Bearer obk_0123456789AB_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("Authorization", "Bearer a.b.c")]
    [InlineData("X-Api-Key", "obk_")]
    [InlineData("X-Api-Key", "Bearer obk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task MalformedCredential_Returns401InvalidToken(string header, string value)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/users");
        request.Headers.TryAddWithoutValidation(header, value);

        var response = await fixture.NewClient().SendAsync(request);

        await AssertUnauthorizedAsync(response, presented: true);
    }

    [Fact]
    public async Task UnknownKey_Returns401InvalidToken()
    {
        var key = ApiKeys.NewKey(ApiKeys.NewKeyId());

        var response = await fixture.NewClient(key: key).GetAsync("/users");

        await AssertUnauthorizedAsync(response, presented: true);
    }

    [Fact]
    public async Task KeyOfAnotherKeyId_Returns401()
    {
        var real = await fixture.CreateKeyAsync(fixture.Tenant, ApiRoles.Writer);
        var other = ApiKeys.NewKey(real.Info.KeyId);

        var response = await fixture.NewClient(key: other).GetAsync("/users");

        await AssertUnauthorizedAsync(response, presented: true);
    }

    [Fact]
    public async Task XApiKeyHeader_Authenticates()
    {
        var key = await fixture.CreateKeyAsync(fixture.Tenant, ApiRoles.Reader);
        var http = fixture.NewClient();
        http.DefaultRequestHeaders.Add("X-Api-Key", key.Key);

        var response = await http.GetAsync("/users?limit=1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task RevokedKey_IsRefusedOnTwoGatewaysWithin5Seconds()
    {
        var key = await fixture.CreateKeyAsync(fixture.Tenant, ApiRoles.Writer);
        var (_, second) = await fixture.StartGatewayAsync();
        var first = fixture.NewClient(key: key.Key);
        var other = fixture.NewClient(second.BaseAddress, key.Key);
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("/users?limit=1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/users?limit=1")).StatusCode);

        var admin = await fixture.ClientForAsync(null, ApiRoles.Admin);
        var clock = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/admin/keys/{key.Info.KeyId}")).StatusCode);

        var refused = new[] { false, false };
        while (!refused.All(r => r) && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            refused[0] |= (await first.GetAsync("/users?limit=1")).StatusCode == HttpStatusCode.Unauthorized;
            refused[1] |= (await other.GetAsync("/users?limit=1")).StatusCode == HttpStatusCode.Unauthorized;
            await Task.Delay(100);
        }

        Assert.True(refused.All(r => r), $"refused on the gateways: {string.Join(", ", refused)} after {clock.Elapsed}");
        // Refused for good, not once.
        await AssertUnauthorizedAsync(await first.GetAsync("/users?limit=1"), presented: true);
        await AssertUnauthorizedAsync(await other.GetAsync("/users?limit=1"), presented: true);
    }

    [Fact]
    public async Task Reader_GetIsAllowed_ChangesAre403()
    {
        var reader = await fixture.ClientForAsync(fixture.Tenant, ApiRoles.Reader);

        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/users?limit=1")).StatusCode);
        foreach (var (method, path) in new[] { ("POST", "/users"), ("PUT", "/users/1"), ("PATCH", "/users/1"), ("DELETE", "/users/1"), ("POST", "/batch") })
        {
            await AssertForbiddenAsync(await SendAsync(reader, method, path));
        }
    }

    [Theory]
    [MemberData(nameof(TenantRoutes))]
    public async Task Admin_OnTenantRoutes_Returns403(string method, string path)
    {
        var admin = await fixture.ClientForAsync(null, ApiRoles.Admin);

        await AssertForbiddenAsync(await SendAsync(admin, method, path));
    }

    [Fact]
    public async Task TenantKeys_OnEveryAdminRoute_Return403()
    {
        var writer = fixture.Http;
        var reader = await fixture.ClientForAsync(fixture.Tenant, ApiRoles.Reader);

        foreach (var route in AdminRoutes)
        {
            var (method, path) = ((string)route[0], (string)route[1]);
            await AssertForbiddenAsync(await SendAsync(writer, method, path));
            await AssertForbiddenAsync(await SendAsync(reader, method, path));
        }
    }

    [Fact]
    public async Task Dashboard_RequiresAdmin()
    {
        var key = await fixture.CreateKeyAsync(null, ApiRoles.Admin);
        // HttpClient drops the credential when it follows a redirect (/dashboard to /dashboard/): follow it here.
        using var admin = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = fixture.Http.BaseAddress };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);

        await AssertForbiddenAsync(await fixture.Http.GetAsync("/dashboard"));
        var response = await admin.GetAsync("/dashboard");
        for (var hops = 0; hops < 3 && response.Headers.Location is { } next; hops++)
        {
            response = await admin.GetAsync(next);
        }

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"the dashboard answered an admin {(int)response.StatusCode}");
    }

    [Fact]
    public async Task Health_NeedsNoCredential_AndIgnoresOne()
    {
        var anonymous = await fixture.NewClient().GetAsync("/health");
        var unknown = await fixture.NewClient(key: ApiKeys.NewKey(ApiKeys.NewKeyId())).GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.OK, unknown.StatusCode);
    }

    [Fact]
    public async Task Database_HoldsOnlyTheKeysHash()
    {
        var key = await fixture.CreateKeyAsync(fixture.Tenant, ApiRoles.Writer);
        var secret = key.Key[(ApiKeys.Prefix.Length + ApiKeys.KeyIdLength + 1)..];

        await using var command = fixture.Database.CreateCommand("SELECT hash, api_keys::text FROM api_keys WHERE key_id = $1");
        command.Parameters.AddWithValue(key.Info.KeyId);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(ApiKeys.Hash(key.Key), (byte[])reader[0]);
        Assert.DoesNotContain(secret, reader.GetString(1), StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToHexStringLower(Encoding.UTF8.GetBytes(secret))[..32], reader.GetString(1), StringComparison.Ordinal);
    }

    [Fact]
    public void NewKey_HasAtLeast256BitsOfSecret()
    {
        var keys = Enumerable.Range(0, 100).Select(_ => ApiKeys.NewKey(ApiKeys.NewKeyId())).ToList();

        Assert.All(keys, key => Assert.True(ApiKeys.TryParse(key, out _), key));
        Assert.All(keys, key => Assert.True(System.Buffers.Text.Base64Url.DecodeFromChars(key.AsSpan(ApiKeys.Prefix.Length + ApiKeys.KeyIdLength + 1)).Length * 8 >= 256));
        Assert.Equal(keys.Count, keys.Distinct().Count());
    }

    internal static Task<HttpResponseMessage> SendAsync(HttpClient http, string method, string path)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method is "POST" or "PUT")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        return http.SendAsync(request);
    }

    internal static async Task AssertUnauthorizedAsync(HttpResponseMessage response, bool presented)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"Expected 401, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Equal(presented, challenge.Parameter?.Contains("error=\"invalid_token\"", StringComparison.Ordinal) ?? false);
        AssertProblem(text, 401, "unauthorized");
    }

    internal static async Task AssertForbiddenAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Forbidden,
            $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: expected 403, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        AssertProblem(text, 403, "forbidden");
    }

    private static void AssertProblem(string text, int status, string type)
    {
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.Equal(ApiAssert.ProblemTypePrefix + type, problem.GetProperty("type").GetString());
        Assert.DoesNotContain(" at ", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
    }
}
