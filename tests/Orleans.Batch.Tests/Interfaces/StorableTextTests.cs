using System.Text;
using Orleans.Batch.Grains.Interfaces.Text;

namespace Orleans.Batch.Tests.Interfaces;

/// <summary>
/// Which text PostgreSQL can store: no NUL, no lone surrogate, and, as bytes, valid UTF-8. Test data writes NUL as
/// <c>{0}</c> and a surrogate as <c>{D800}</c>, so no test name holds what a results file cannot.
/// </summary>
public sealed class StorableTextTests
{
    [Theory]
    [InlineData("")]
    [InlineData("plain ascii")]
    [InlineData("Zoë, 東京, emoji {D83D}{DE00} paired")]
    [InlineData("{FEFF}a byte-order mark is storable text")]
    public void Problem_StorableText_IsNull(string text) => Assert.Null(StorableText.Problem(Text(text)));

    [Fact]
    public void Problem_Null_IsNull() => Assert.Null(StorableText.Problem((string?)null));

    [Theory]
    [InlineData("a{0}b")]
    [InlineData("{0}")]
    [InlineData("tail{0}")]
    public void Problem_Nul_NamesNul(string text) => Assert.Equal(StorableText.NulMessage, StorableText.Problem(Text(text)));

    [Theory]
    [InlineData("{D800}")]
    [InlineData("a{D800}b")]
    [InlineData("a{DC00}")]
    [InlineData("{DC00}{D800}")]
    [InlineData("end{D83D}")]
    public void Problem_LoneSurrogate_NamesSurrogate(string text) => Assert.Equal(StorableText.SurrogateMessage, StorableText.Problem(Text(text)));

    [Fact]
    public void Utf8Problem_ValidUtf8_IsNull() => Assert.Null(StorableText.Utf8Problem(Encoding.UTF8.GetBytes(Text("Zoë {D83D}{DE00}"))));

    [Theory]
    [InlineData(new byte[] { 0x61, 0xED, 0xA0, 0x80 })] // an encoded surrogate (CESU-8)
    [InlineData(new byte[] { 0xC3 })] // a truncated sequence
    [InlineData(new byte[] { 0xFF, 0x61 })]
    [InlineData(new byte[] { 0xC0, 0x80 })] // an overlong NUL
    public void Utf8Problem_InvalidBytes_NamesUtf8(byte[] bytes) => Assert.Equal(StorableText.Utf8Message, StorableText.Utf8Problem(bytes));

    [Fact]
    public void Utf8Problem_NulByte_NamesNul() => Assert.Equal(StorableText.NulMessage, StorableText.Utf8Problem("a\0b"u8));

    [Theory]
    [InlineData(new byte[] { 0x61, 0x62 }, -1)]
    [InlineData(new byte[] { 0x61, 0xED, 0xA0, 0x80 }, 1)]
    [InlineData(new byte[] { 0xC3, 0xA9, 0xFF }, 2)]
    public void InvalidUtf8At_FindsTheFirstBadByte(byte[] bytes, int expected) => Assert.Equal(expected, StorableText.InvalidUtf8At(bytes));

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("x-a{0}", "x-a\\u0000")]
    [InlineData("a{D800}b", "a\\ud800b")]
    [InlineData("{D83D}{DE00}{0}", "{D83D}{DE00}\\u0000")]
    public void Printable_EscapesWhatCannotBeStored(string text, string expected) =>
        Assert.Equal(Text(expected), StorableText.Printable(Text(text)));

    /// <summary>The test's notation as the text it stands for: <c>{0}</c> is NUL, <c>{XXXX}</c> the UTF-16 unit XXXX.</summary>
    internal static string Text(string notation) =>
        System.Text.RegularExpressions.Regex.Replace(notation, @"\{([0-9A-F]{1,4})\}",
            m => ((char)Convert.ToInt32(m.Groups[1].Value, 16)).ToString());
}
