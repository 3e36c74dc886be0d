using System.Buffers;
using System.Text;

namespace Orleans.Batch.Grains.Database;

/// <summary>
/// Values in PostgreSQL's COPY text format: a tab between the values of a row, a line per row, <c>\N</c> for null, and a
/// backslash before any backslash, tab or line break a value holds, so no value can end its field or its row.
/// </summary>
internal static class CopyText
{
    private static readonly SearchValues<char> Escaped = SearchValues.Create("\\\t\n\r");

    public static void AppendValue(StringBuilder text, string? value)
    {
        if (value is null)
        {
            text.Append("\\N");
            return;
        }

        var rest = value.AsSpan();
        for (var at = rest.IndexOfAny(Escaped); at >= 0; at = rest.IndexOfAny(Escaped))
        {
            text.Append(rest[..at]).Append('\\').Append(rest[at] switch { '\t' => 't', '\n' => 'n', '\r' => 'r', var c => c });
            rest = rest[(at + 1)..];
        }

        text.Append(rest);
    }
}
