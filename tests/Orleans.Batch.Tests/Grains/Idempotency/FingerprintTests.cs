using Orleans.Batch.Grains.Idempotency;

namespace Orleans.Batch.Tests.Grains.Idempotency;

public sealed class FingerprintTests
{
    [Fact]
    public void Of_SameJsonWithOtherWhitespace_IsEqual() =>
        Assert.Equal(
            Fingerprint.Of("POST", "/users", "{\"email\":\"a@b.co\",\"name\":\"A\"}"),
            Fingerprint.Of("post", "/users", "{ \"email\" : \"a@b.co\",\n  \"name\": \"A\" }"));

    [Theory]
    [InlineData("PUT", "/users", "{\"name\":\"A\"}")]
    [InlineData("POST", "/products", "{\"name\":\"A\"}")]
    [InlineData("POST", "/users", "{\"name\":\"B\"}")]
    [InlineData("POST", "/users", null)]
    public void Of_AnotherMethodPathOrBody_Differs(string method, string path, string? body) =>
        Assert.NotEqual(Fingerprint.Of("POST", "/users", "{\"name\":\"A\"}"), Fingerprint.Of(method, path, body));

    [Fact]
    public void Of_BodyThatIsNotJson_IsComparedAsText()
    {
        Assert.Equal(Fingerprint.Of("POST", "/users", "not json"), Fingerprint.Of("POST", "/users", "not json"));
        Assert.NotEqual(Fingerprint.Of("POST", "/users", "not json"), Fingerprint.Of("POST", "/users", "not  json"));
    }
}
