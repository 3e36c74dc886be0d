using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Orleans.Batch.Grains.Interfaces.Text;

namespace Orleans.Batch.Grains.Resources;

/// <summary>
/// Reads and validates the fields of a JSON object body, collecting every error by field name.
/// In partial mode (PATCH) a missing field is simply not changed; otherwise required fields must be present.
/// </summary>
public sealed class FieldReader
{
    /// <summary>What ends a string of a flat body (see <see cref="Flat"/>): its closing quote, or what would need a parser.</summary>
    private static readonly SearchValues<char> FlatStringStops = SearchValues.Create(
        "\"\\" + string.Concat(Enumerable.Range(0, 0x20).Concat(Enumerable.Range(0xD800, 0x800)).Select(c => (char)c)));

    // A body has a handful of fields, so a list searched by name costs less than a dictionary built per body.
    private readonly List<Field> _fields = [];
    private readonly bool _partial;
    private Dictionary<string, List<string>>? _errors;

    /// <summary>Bit i: the i-th field was asked for by name. A resource has a handful of fields, so a body past 64 has unknown ones.</summary>
    private ulong _asked;

    public FieldReader(JsonElement body, bool partial)
    {
        _partial = partial;
        foreach (var property in body.EnumerateObject())
        {
            _fields.Add(new Field(property, null, null));
        }
    }

    private FieldReader(bool partial) => _partial = partial;

    /// <summary>
    /// A reader of <paramref name="body"/> without parsing it, when it is a flat object of strings written without
    /// whitespace, escapes, control characters or surrogates (<c>{"email":"ann@example.com","name":"Ann"}</c>, as a CSV
    /// import writes its rows): it then reads as a parsed body would. Null for any other body, valid or not.
    /// </summary>
    public static FieldReader? Flat(string? body, bool partial)
    {
        if (body is not ['{', .., '}'])
        {
            return null;
        }

        var reader = new FieldReader(partial);
        var at = 1;
        if (at == body.Length - 1)
        {
            return reader;
        }

        while (true)
        {
            if (!FlatString(body, ref at, out var name) || body[at++] != ':' || !FlatString(body, ref at, out var value))
            {
                return null;
            }

            reader._fields.Add(new Field(default, name, value));
            if (at == body.Length - 1)
            {
                return reader;
            }

            if (body[at++] != ',')
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Reads the string whose opening quote is at <paramref name="at"/>, leaving <paramref name="at"/> after its closing
    /// one; false when there is none, or the string holds what only a parser reads (see <see cref="FlatStringStops"/>).
    /// </summary>
    private static bool FlatString(string body, ref int at, out string value)
    {
        value = "";
        if (body[at] != '"')
        {
            return false;
        }

        var length = body.AsSpan(at + 1).IndexOfAny(FlatStringStops);
        if (length < 0 || body[at + 1 + length] != '"')
        {
            return false;
        }

        value = body.Substring(at + 1, length);
        at += length + 2;
        return true;
    }

    public bool IsValid => _errors is null;

    /// <summary>
    /// Whether every field read so far was a string whose value is its JSON text's value as it stands, under its exact
    /// name, given once: what a statement reading the body's JSON by name stores is then what was validated.
    /// </summary>
    public bool Verbatim { get; private set; } = true;

    public IReadOnlyDictionary<string, string[]> Errors =>
        (_errors ?? []).ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);

    public void AddError(string field, string message)
    {
        _errors ??= new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (!_errors.TryGetValue(field, out var messages))
        {
            _errors[field] = messages = [];
        }

        messages.Add(message);
    }

    /// <summary>A field that may be left out even when creating; the caller supplies its default.</summary>
    public string? OptionalString(string name, int maxLength) => String(name, maxLength, required: false);

    public string? String(string name, int maxLength, bool required = true)
    {
        if (!TryGet(name, required, out var value))
        {
            return null;
        }

        if (value.Kind != JsonValueKind.String)
        {
            AddError(name, "Must be a string.");
            return null;
        }

        string text;
        try
        {
            var raw = value.Text ?? value.Property.Value.GetString()!;
            text = raw.Trim();
            Verbatim &= text.Length == raw.Length;
        }
        catch (InvalidOperationException)
        {
            // A JSON escape of an unpaired surrogate such as "\ud800": valid JSON, but not text.
            AddError(name, StorableText.SurrogateMessage);
            return null;
        }

        if (StorableText.Problem(text) is { } problem)
        {
            AddError(name, problem);
            return null;
        }

        if (text.Length == 0)
        {
            AddError(name, "Must not be empty.");
            return null;
        }

        if (text.Length > maxLength)
        {
            AddError(name, $"Must be at most {maxLength} characters; got {text.Length}.");
            return null;
        }

        return text;
    }

    public long? Int64(string name, long min, long max = long.MaxValue)
    {
        Verbatim = false;
        if (!TryGet(name, required: true, out var value))
        {
            return null;
        }

        if (value.Kind != JsonValueKind.Number || !value.Property.Value.TryGetInt64(out var number))
        {
            AddError(name, "Must be a whole number.");
            return null;
        }

        return InRange(name, number, min, max) ? number : null;
    }

    public decimal? Decimal(string name, decimal min, decimal max)
    {
        Verbatim = false;
        if (!TryGet(name, required: true, out var value))
        {
            return null;
        }

        if (value.Kind != JsonValueKind.Number || !value.Property.Value.TryGetDecimal(out var number))
        {
            AddError(name, "Must be a number.");
            return null;
        }

        return InRange(name, number, min, max) ? number : null;
    }

    private bool InRange<T>(string name, T number, T min, T max)
        where T : IComparable<T>
    {
        if (number.CompareTo(min) < 0)
        {
            AddError(name, $"Must be at least {min}.");
            return false;
        }

        if (number.CompareTo(max) > 0)
        {
            AddError(name, $"Must be at most {max}.");
            return false;
        }

        return true;
    }

    private bool TryGet(string name, bool required, out Field value)
    {
        if (!TryFind(name, out value) || value.Kind == JsonValueKind.Undefined)
        {
            if (required && !_partial)
            {
                AddError(name, "Is required.");
            }

            return false;
        }

        if (value.Kind == JsonValueKind.Null)
        {
            if (!required && !_partial)
            {
                return false;
            }

            AddError(name, _partial ? "Must not be null; leave the field out to keep its value." : "Is required.");
            return false;
        }

        return true;
    }

    /// <summary>
    /// Adds an error for each field of the body that no read asked for: an unknown field (a typo such as "nmae") is an
    /// error, never silently dropped. Called once every field of the resource was read.
    /// </summary>
    public void RefuseUnknown(string fieldList)
    {
        for (var i = 0; i < _fields.Count; i++)
        {
            if (i >= 64 || (_asked & (1UL << i)) == 0)
            {
                var name = _fields[i].Name ?? _fields[i].Property.Name;
                AddError(StorableText.IsStorable(name) ? name : "(a field whose name is not valid text)",
                    $"Is not a field that can be set; the fields are {fieldList}.");
            }
        }
    }

    /// <summary>The field named <paramref name="name"/> in any case; of repeated names, the last, as a dictionary would keep it.</summary>
    private bool TryFind(string name, out Field value)
    {
        for (var i = Math.Min(_fields.Count, 64) - 1; i >= 0; i--)
        {
            if (NameIs(_fields[i], name))
            {
                _asked |= 1UL << i;
            }
        }

        for (var i = _fields.Count - 1; i >= 0; i--)
        {
            if (NameIs(_fields[i], name))
            {
                value = _fields[i];
                var exact = _fields[i].Name is { } flat
                    ? string.Equals(flat, name, StringComparison.Ordinal)
                    : Ascii.Equals(JsonMarshal.GetRawUtf8PropertyName(_fields[i].Property), name);
                Verbatim &= exact && !_fields.Take(i).Any(other => NameIs(other, name));
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>
    /// Whether the field is named <paramref name="name"/> (ASCII, as every field is) in any case, compared on a parsed
    /// name's UTF-8 bytes; only a name with escapes or characters beyond ASCII becomes a string to compare.
    /// </summary>
    private static bool NameIs(Field field, string name)
    {
        if (field.Name is { } flat)
        {
            return string.Equals(flat, name, StringComparison.OrdinalIgnoreCase);
        }

        var property = field.Property;
        var raw = JsonMarshal.GetRawUtf8PropertyName(property);
        return Ascii.IsValid(raw) && raw.IndexOf((byte)'\\') < 0
            ? Ascii.EqualsIgnoreCase(raw, name)
            : string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A field of the body: a parsed property, or a flat body's name and string (<see cref="Flat"/>).</summary>
    private readonly record struct Field(JsonProperty Property, string? Name, string? Text)
    {
        public JsonValueKind Kind => Name is null ? Property.Value.ValueKind : JsonValueKind.String;
    }
}
