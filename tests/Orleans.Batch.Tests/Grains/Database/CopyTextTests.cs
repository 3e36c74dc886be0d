using System.Text;
using Orleans.Batch.Grains.Database;

namespace Orleans.Batch.Tests.Grains.Database;

public sealed class CopyTextTests
{
    private static string Of(string? value)
    {
        var text = new StringBuilder();
        CopyText.AppendValue(text, value);
        return text.ToString();
    }

    [Theory]
    [InlineData("plain name", "plain name")]
    [InlineData("", "")]
    [InlineData("a\tb", "a\\tb")]
    [InlineData("line\r\nnext", "line\\r\\nnext")]
    [InlineData(@"back\slash", @"back\\slash")]
    [InlineData(@"\N", @"\\N")]
    [InlineData(@"\.", @"\\.")]
    [InlineData("\t\\\n", "\\t\\\\\\n")]
    [InlineData("Ünïcode, \"quoted\"", "Ünïcode, \"quoted\"")]
    public void AppendValue_EscapesWhatCouldEndAFieldOrARow(string value, string expected) =>
        Assert.Equal(expected, Of(value));

    [Fact]
    public void AppendValue_Null_IsBackslashN() => Assert.Equal(@"\N", Of(null));
}
