using System.Text;

namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>A small RFC 4180 parser for checking the CSV files the gateway writes, independent of the gateway's own reader.</summary>
public static class Csv
{
    /// <summary>The records of <paramref name="text"/>; every record must end with CRLF.</summary>
    public static List<string[]> Parse(string text)
    {
        var records = new List<string[]>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            if (text[i] == '"')
            {
                i++;
                while (true)
                {
                    Assert.True(i < text.Length, "A quoted field is never closed.");
                    if (text[i] == '"' && i + 1 < text.Length && text[i + 1] == '"')
                    {
                        field.Append('"');
                        i += 2;
                    }
                    else if (text[i] == '"')
                    {
                        i++;
                        break;
                    }
                    else
                    {
                        field.Append(text[i++]);
                    }
                }
            }

            while (i < text.Length && text[i] is not (',' or '\r' or '\n'))
            {
                Assert.NotEqual('"', text[i]);
                field.Append(text[i++]);
            }

            fields.Add(field.ToString());
            field.Clear();
            Assert.True(i < text.Length, "The last record does not end with CRLF.");
            if (text[i] == ',')
            {
                i++;
                continue;
            }

            Assert.True(text[i] == '\r' && i + 1 < text.Length && text[i + 1] == '\n', $"Records must end with CRLF (at {i}).");
            i += 2;
            records.Add([.. fields]);
            fields.Clear();
        }

        return records;
    }

    /// <summary>Quotes <paramref name="value"/> for a CSV field when it needs it.</summary>
    public static string Field(string value) =>
        value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : value;
}
