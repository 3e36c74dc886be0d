using System.Text.Json;
using Orleans.Batch.Grains.Interfaces.Text;

namespace Orleans.Batch.Gateway.Http;

/// <summary>Finds text in a JSON document that PostgreSQL could not store (see <see cref="StorableText"/>).</summary>
internal static class JsonText
{
    /// <summary>
    /// Checks every string and property name in <paramref name="value"/> (a body) can be stored, adding an
    /// error naming the first that cannot (e.g. <c>operations[2].body.name</c>, or <c>name</c> with an empty
    /// <paramref name="at"/>); false when there was one.
    /// </summary>
    public static bool Check(JsonElement value, string at, IDictionary<string, string[]> errors)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String when Read(value).Problem is { } problem:
                errors[at.Length == 0 ? "$" : at] = [problem];
                return false;
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    var (printable, nameProblem) = Name(property);
                    var name = at.Length == 0 ? printable : $"{at}.{printable}";
                    if (nameProblem is not null)
                    {
                        errors[name] = [$"Its name: {nameProblem}"];
                        return false;
                    }

                    if (!Check(property.Value, name, errors))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in value.EnumerateArray())
                {
                    if (!Check(item, $"{at}[{index++}]", errors))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return true;
        }
    }

    /// <summary>
    /// A string's text, or why it cannot be stored. System.Text.Json refuses to decode an escaped lone surrogate
    /// (<c>"\ud800"</c>) and throws, so that is caught here and named like any other text that cannot be stored.
    /// </summary>
    private static (string? Text, string? Problem) Read(JsonElement value)
    {
        try
        {
            var text = value.GetString();
            return StorableText.Problem(text) is { } problem ? (null, problem) : (text, null);
        }
        catch (InvalidOperationException)
        {
            return (null, StorableText.SurrogateMessage);
        }
    }

    /// <summary>A property's name fit to be named in an answer (see <see cref="StorableText.Printable"/>), and why it cannot be stored, if so.</summary>
    private static (string Printable, string? Problem) Name(JsonProperty property)
    {
        try
        {
            var name = property.Name;
            return (StorableText.Printable(name), StorableText.Problem(name));
        }
        catch (InvalidOperationException)
        {
            // The name as written, escapes and all: valid text that shows where the lone surrogate is.
            return (System.Text.Encoding.UTF8.GetString(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8PropertyName(property)),
                StorableText.SurrogateMessage);
        }
    }
}
