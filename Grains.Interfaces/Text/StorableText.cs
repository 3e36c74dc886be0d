using System.Text.Unicode;

namespace Orleans.Batch.Grains.Interfaces.Text;

/// <summary>
/// Whether text can be stored in PostgreSQL as it is: a UTF-8 database refuses the NUL character, and text that is not
/// well-formed Unicode (a lone surrogate, bytes that are not UTF-8) cannot even be encoded for it. Every entry that
/// accepts a client's text checks it here before anything is claimed or stored, so such text is a 400 naming its field
/// and never a failed statement.
/// </summary>
public static class StorableText
{
    public const string NulMessage = "Must not contain the NUL character (U+0000); it cannot be stored.";

    public const string SurrogateMessage = "Must be valid Unicode text; it contains an unpaired surrogate (e.g. \\ud800).";

    public const string Utf8Message = "Must be valid UTF-8; it contains bytes that are not.";

    /// <summary>Why <paramref name="text"/> cannot be stored, or null when it can (null text can).</summary>
    public static string? Problem(ReadOnlySpan<char> text)
    {
        if (text.Contains('\0'))
        {
            return NulMessage;
        }

        // Nearly all text has no surrogate at all: a vectorized search skips to the first one.
        var first = text.IndexOfAnyInRange('\ud800', '\udfff');
        for (var i = Math.Max(first, 0); first >= 0 && i < text.Length; i++)
        {
            if (!char.IsSurrogate(text[i]))
            {
                continue;
            }

            if (!char.IsHighSurrogate(text[i]) || i + 1 == text.Length || !char.IsLowSurrogate(text[i + 1]))
            {
                return SurrogateMessage;
            }

            i++;
        }

        return null;
    }

    /// <summary>As above for a string that may be null.</summary>
    public static string? Problem(string? text) => text is null ? null : Problem(text.AsSpan());

    /// <summary>Why UTF-8 <paramref name="bytes"/> cannot be stored as text, or null when they can.</summary>
    public static string? Utf8Problem(ReadOnlySpan<byte> bytes) =>
        !Utf8.IsValid(bytes) ? Utf8Message
        : bytes.Contains((byte)0) ? NulMessage
        : null;

    /// <summary>The position of the first byte of <paramref name="bytes"/> that is not part of valid UTF-8, or -1.</summary>
    public static int InvalidUtf8At(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes))
        {
            return -1;
        }

        var at = 0;
        while (System.Text.Rune.DecodeFromUtf8(bytes[at..], out _, out var read) == System.Buffers.OperationStatus.Done)
        {
            at += read;
        }

        return at;
    }

    /// <summary>
    /// <paramref name="text"/> fit to be named in an answer: characters that cannot be stored (or written as JSON) are
    /// shown as <c>\uXXXX</c> escapes, so an error can name a field whose name is the problem.
    /// </summary>
    public static string Printable(string text)
    {
        if (Problem(text) is null)
        {
            return text;
        }

        var printable = new System.Text.StringBuilder(text.Length + 8);
        for (var i = 0; i < text.Length; i++)
        {
            var paired = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
            if (paired)
            {
                printable.Append(text, i++, 2);
            }
            else if (text[i] == '\0' || char.IsSurrogate(text[i]))
            {
                printable.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)text[i]:x4}");
            }
            else
            {
                printable.Append(text[i]);
            }
        }

        return printable.ToString();
    }

    /// <summary>Whether <paramref name="text"/> can be stored.</summary>
    public static bool IsStorable(string? text) => Problem(text) is null;
}
