using System.Net;
using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Orleans.Batch.Gateway.Security;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Gateway.Security;

/// <summary>JWT bearer tokens, signed here with the gateway's configured key, alongside API keys.</summary>
[Collection(ClusterCollection.Name)]
public sealed class JwtTests(ClusterFixture fixture)
{
    private const string SigningKey = "jwt-tests-signing-key-of-at-least-32-bytes";
    private const string Issuer = "https://issuer.test";
    private const string Audience = "orleans-batch";

    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Security:Jwt:SigningKey"] = SigningKey,
        ["Security:Jwt:Issuer"] = Issuer,
        ["Security:Jwt:Audience"] = Audience,
        ["Security:Jwt:TenantClaim"] = "org",
    };

    [Fact]
    public async Task Token_WithTenantAndRole_ActsForTheTenant()
    {
        var gateway = await GatewayAsync();
        var writer = Client(gateway, Token(new() { ["org"] = fixture.Tenant, ["role"] = "writer" }));
        var reader = Client(gateway, Token(new() { ["org"] = fixture.Tenant, ["role"] = "reader" }));
        var admin = Client(gateway, Token(new() { ["role"] = "admin" }));

        Assert.Equal(HttpStatusCode.Created, (await new BatchApi(writer).PostAsync("/users", new { email = Unique.Email("jwt"), name = "Jwt" })).Status);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/users?limit=1")).StatusCode);
        await AuthenticationTests.AssertForbiddenAsync(await AuthenticationTests.SendAsync(reader, "POST", "/users"));
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/admin/tenants")).StatusCode);
        await AuthenticationTests.AssertForbiddenAsync(await admin.GetAsync("/users"));
        // API keys keep working beside tokens.
        Assert.Equal(HttpStatusCode.OK, (await Client(gateway, fixture.WriterKey).GetAsync("/users?limit=1")).StatusCode);
    }

    [Fact]
    public async Task Token_WrongSignature_Expired_WrongAudience_OrWithoutClaims_Returns401()
    {
        var gateway = await GatewayAsync();
        var claims = new Dictionary<string, object> { ["org"] = fixture.Tenant, ["role"] = "writer" };
        var tokens = new[]
        {
            Token(claims, key: "another-signing-key-of-at-least-32-bytes!"),
            Token(claims, expires: DateTime.UtcNow.AddMinutes(-5)),
            Token(claims, audience: "someone-else"),
            Token(new() { ["org"] = fixture.Tenant }),
            Token(new() { ["role"] = "writer" }),
            Token(new() { ["org"] = "Not A Tenant", ["role"] = "writer" }),
            Token(new() { ["org"] = fixture.Tenant, ["role"] = "owner" }),
        };

        foreach (var token in tokens)
        {
            await AuthenticationTests.AssertUnauthorizedAsync(await Client(gateway, token).GetAsync("/users"), presented: true);
        }

        var expired = await Client(gateway, tokens[1]).GetAsync("/users");
        Assert.Contains("expired", Assert.Single(expired.Headers.WwwAuthenticate).Parameter, StringComparison.Ordinal);
    }

    [Fact]
    public void Identity_TakesTheConfiguredClaims()
    {
        var jwt = new JwtOptions { TenantClaim = "org", RoleClaim = "r" };
        ClaimsPrincipal Principal(params (string Type, string Value)[] claims) => new(new ClaimsIdentity(claims.Select(c => new Claim(c.Type, c.Value)), "test"));

        var writer = JwtClaims.Identity(Principal(("org", "acme"), ("r", "writer")), jwt);
        var admin = JwtClaims.Identity(Principal(("org", "acme"), ("r", "admin")), jwt);

        Assert.Equal("acme", writer!.FindFirst(TenantScope.TenantClaim)?.Value);
        Assert.Equal("writer", writer.FindFirst(Credentials.RoleClaim)?.Value);
        Assert.Null(admin!.FindFirst(TenantScope.TenantClaim));
        Assert.Null(JwtClaims.Identity(Principal(("org", "acme"), ("r", "writer"), ("r", "reader")), jwt));
        Assert.Null(JwtClaims.Identity(Principal(("tenant", "acme"), ("r", "writer")), jwt));
        Assert.Null(JwtClaims.Identity(Principal(("org", "acme"), ("role", "writer")), jwt));
    }

    [Theory]
    [InlineData("https://idp.example", "jwt-tests-signing-key-of-at-least-32-bytes")]
    [InlineData(null, "short")]
    [InlineData("not a url", null)]
    public void Options_Invalid_AreRefused(string? authority, string? signingKey) =>
        Assert.NotEmpty(new JwtOptions { Authority = authority, SigningKey = signingKey }.Validate());

    [Theory]
    [InlineData("00:00:03")]
    [InlineData("-00:00:01")]
    public void ApiKeyCacheDuration_AboveTwoSeconds_IsRefused(string duration) =>
        Assert.NotEmpty(new ApiKeyOptions { CacheDuration = TimeSpan.Parse(duration, System.Globalization.CultureInfo.InvariantCulture) }.Validate());

    private async Task<Uri> GatewayAsync() => (await fixture.StartGatewayAsync(Settings)).Http.BaseAddress!;

    private HttpClient Client(Uri gateway, string token) => fixture.NewClient(gateway, token);

    private static string Token(Dictionary<string, object> claims, string key = SigningKey, DateTime? expires = null, string audience = Audience) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = audience,
            Claims = claims,
            NotBefore = (expires ?? DateTime.UtcNow.AddMinutes(10)).AddMinutes(-20),
            IssuedAt = (expires ?? DateTime.UtcNow.AddMinutes(10)).AddMinutes(-20),
            Expires = expires ?? DateTime.UtcNow.AddMinutes(10),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
        });
}
