using Orleans.Batch.Grains.Resources.Users;

namespace Orleans.Batch.Tests.Grains.Resources;

public sealed class EmailAddressTests
{
    public static TheoryData<string> LongestValid => new()
    {
        new string('a', 64) + "@example.com",
        "a@" + string.Join('.', Enumerable.Repeat(new string('b', 63), 3)) + "." + new string('c', 61),
        "a@" + new string('d', 63) + ".com",
    };

    public static TheoryData<string> JustTooLong => new()
    {
        new string('a', 65) + "@example.com",
        "a@" + string.Join('.', Enumerable.Repeat(new string('b', 63), 3)) + "." + new string('c', 62),
        "a@" + new string('d', 64) + ".com",
        "a@example." + new string('c', 64),
    };

    [Theory]
    [InlineData("name@example.com")]
    [InlineData("NAME@EXAMPLE.COM")]
    [InlineData("first.last@example.com")]
    [InlineData("first+tag@example.com")]
    [InlineData("o'brien@example.ie")]
    [InlineData("user_name-1@sub.example.co.uk")]
    [InlineData("x@a.io")]
    [InlineData("1234@123.example.org")]
    [InlineData("user@my-host.example")]
    [InlineData("ünïcödé@example.de")]
    [MemberData(nameof(LongestValid))]
    public void IsValid_ValidAddress_ReturnsTrue(string email) => Assert.True(EmailAddress.IsValid(email));

    [Theory]
    [InlineData("")]
    [InlineData("plainaddress")]
    [InlineData("@example.com")]
    [InlineData("name@")]
    [InlineData("name@@example.com")]
    [InlineData("a@b@example.com")]
    [InlineData("name@example")]
    [InlineData("name@localhost")]
    [InlineData("name@example.c")]
    [InlineData("name@example.c0m")]
    [InlineData("name@example.com.")]
    [InlineData("name@.example.com")]
    [InlineData("name@example..com")]
    [InlineData("name@-example.com")]
    [InlineData("name@example-.com")]
    [InlineData("name@exa_mple.com")]
    [InlineData("name@[127.0.0.1]")]
    [InlineData("name@127.0.0.1")]
    [InlineData("first last@example.com")]
    [InlineData(" name@example.com")]
    [InlineData("name@example.com ")]
    [InlineData("name@example.com\n")]
    [InlineData("name@example.com\r\n")]
    [InlineData("name\n@example.com")]
    [InlineData("\"quoted\"@example.com")]
    [InlineData("a(b)@example.com")]
    [InlineData("a,b@example.com")]
    [InlineData("a:b@example.com")]
    [InlineData("a;b@example.com")]
    [InlineData("<name@example.com>")]
    [InlineData("a[b]@example.com")]
    [InlineData("a\\b@example.com")]
    [InlineData("name@exämple.com")]
    [InlineData("\ufeffname@example.com")] // byte-order mark
    [InlineData("na\u200bme@example.com")] // zero-width space
    [InlineData("name\u200d@example.com")] // zero-width joiner
    [InlineData("\u202ename@example.com")] // right-to-left override
    [InlineData("na\u00a0me@example.com")] // no-break space
    [InlineData("na\u2028me@example.com")] // line separator
    [InlineData("na\u0007me@example.com")] // a control character
    [InlineData("na\ue000me@example.com")] // private use
    [MemberData(nameof(JustTooLong))]
    public void IsValid_InvalidAddress_ReturnsFalse(string email) => Assert.False(EmailAddress.IsValid(email));
}
