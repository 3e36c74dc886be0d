using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Orleans.Batch.Grains.Database;

namespace Orleans.Batch.Grains.Resources;

/// <summary>
/// Turns an HTTP-shaped operation into a call on its resource handler. Single-resource requests and batch items
/// both come through here, so an item answers exactly what the single request would.
/// </summary>
public sealed class ResourceRouter
{
    private static readonly string[] CollectionMethods = ["GET", "POST"];
    private static readonly string[] ItemMethods = ["GET", "PUT", "PATCH", "DELETE"];

    private static readonly IReadOnlyDictionary<string, string> NoQuery = new Dictionary<string, string>();

    private readonly Dictionary<string, IResourceHandler>.AlternateLookup<ReadOnlySpan<char>> _handlers;

    public ResourceRouter(IEnumerable<IResourceHandler> handlers) =>
        _handlers = handlers.ToDictionary(h => h.Collection, StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>
    /// Resolves an operation without touching the database: either its answer (404, 405, a malformed body) or the
    /// handler call to run on a session. Only routes that can change data are <see cref="RoutedOperation.Mutates"/>.
    /// </summary>
    public RoutedOperation Route(string method, string path, string? body)
    {
        method = method.ToUpperInvariant();
        var (route, query) = SplitQuery(path);
        var segments = Segments(route, out var collection, out var item);
        if (!route.StartsWith('/') || segments is 0 or > 2 || !_handlers.TryGetValue(collection, out var handler))
        {
            return RoutedOperation.Answer(Problems.NotFound($"No resource at '{route}'."));
        }

        if (segments == 1)
        {
            return method switch
            {
                "GET" => RoutedOperation.Read((s, ct) => handler.ListAsync(s, query, ct)),
                "POST" => Parse(body, out var b) is { } problem
                    ? RoutedOperation.Answer(problem)
                    : RoutedOperation.Write((s, ct) => handler.CreateAsync(s, b, ct), creates: (handler, b)),
                _ => RoutedOperation.Answer(Problems.MethodNotAllowed(method, route, CollectionMethods)),
            };
        }

        if (!long.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id < 1)
        {
            return RoutedOperation.Answer(Problems.NotFound($"No resource at '{route}': ids are positive whole numbers."));
        }

        return method switch
        {
            "GET" => RoutedOperation.Read((s, ct) => handler.GetAsync(s, id, ct)),
            "PUT" or "PATCH" => Parse(body, out var b) is { } problem
                ? RoutedOperation.Answer(problem)
                : Update(handler, new ItemUpdate(id, b, Partial: method == "PATCH")),
            "DELETE" => RoutedOperation.Write((s, ct) => handler.DeleteAsync(s, id, ct), deletes: (handler, id)),
            _ => RoutedOperation.Answer(Problems.MethodNotAllowed(method, route, ItemMethods)),
        };
    }

    /// <summary>How many non-empty segments <paramref name="route"/> has (counting stops at three), and the first two.</summary>
    private static int Segments(string route, out ReadOnlySpan<char> first, out ReadOnlySpan<char> second)
    {
        first = [];
        second = [];
        var count = 0;
        foreach (var range in route.AsSpan().Split('/'))
        {
            var segment = route.AsSpan()[range];
            if (segment.IsEmpty)
            {
                continue;
            }

            if (++count == 1)
            {
                first = segment;
            }
            else if (count == 2)
            {
                second = segment;
            }
            else
            {
                break;
            }
        }

        return count;
    }

    /// <summary>How the database creates the rows posted to <paramref name="path"/> from staged bodies, or null when it does not.</summary>
    public StagedCreate? StagedCreateAt(string path) => StagingHandler("POST", path)?.Staged;

    /// <summary>
    /// The column values a create stores when its database runs it staged (<see cref="IResourceHandler.Staged"/>), or null
    /// when it does not run that way.
    /// </summary>
    public string?[]? StagedValues(string method, string path, string? body) =>
        StagedBody(method, path, body) is { } staged ? staged.Handler.StagedValues(staged.Fields) : null;

    /// <summary>What a staged create answered, given the row's id and time (see <see cref="IResourceHandler.RenderCreated"/>).</summary>
    public ResourceResponse RenderCreated(string method, string path, string? body, long id, DateTime createdAt) =>
        StagedBody(method, path, body) is { } staged
            ? staged.Handler.RenderCreated(staged.Fields, id, createdAt)
            : Problems.Internal($"Item {method} {path} was recorded as created but is not a staged create.");

    /// <summary>
    /// The handler of a create that can run staged, and its body's fields, or null. Read for every item a batch stores
    /// and every staged answer read back: the body is read only when the method and path can stage, and parsed only
    /// when it is not a flat object of plain strings, as an import's rows are.
    /// </summary>
    private (IResourceHandler Handler, FieldReader Fields)? StagedBody(string method, string path, string? body) =>
        StagingHandler(method, path) is not { } handler ? null
        : FieldReader.Flat(body, partial: false) is { } flat ? (handler, flat)
        : Parse(body, out var root) is null ? (handler, new FieldReader(root, partial: false))
        : null;

    /// <summary>The handler of a POST to a collection (no query) that stages its creates, or null.</summary>
    private IResourceHandler? StagingHandler(string method, string path) =>
        method.Equals("POST", StringComparison.OrdinalIgnoreCase) && !path.Contains('?', StringComparison.Ordinal) && path.StartsWith('/')
            && Segments(path, out var collection, out _) == 1 && _handlers.TryGetValue(collection, out var handler) && handler.Staged is not null
            ? handler
            : null;

    /// <summary>Routes and, when the route needs the database, runs the operation on <paramref name="session"/>.</summary>
    public Task<ResourceResponse> RouteAsync(DbSession session, string method, string path, string? body, CancellationToken cancellationToken)
    {
        var routed = Route(method, path, body);
        return routed.Immediate is { } answer ? Task.FromResult(answer) : routed.Run!(session, cancellationToken);
    }

    private static RoutedOperation Update(IResourceHandler handler, ItemUpdate update) =>
        RoutedOperation.Write((s, ct) => handler.UpdateAsync(s, update.Id, update.Body, update.Partial, ct), updates: (handler, update));

    /// <summary>Parses the body into <paramref name="root"/>; the answer to a missing or malformed one, or null.</summary>
    private static ResourceResponse? Parse(string? body, out JsonElement root)
    {
        root = default;
        if (string.IsNullOrWhiteSpace(body))
        {
            return Problems.MalformedBody("A JSON object body is required.");
        }

        var utf8 = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(body.Length));
        try
        {
            // The element keeps a document of its own, exactly sized, so the bytes go back to the pool. Reading on past
            // the value throws on anything but whitespace after it, as JsonDocument.Parse would.
            var reader = new Utf8JsonReader(utf8.AsSpan(0, Encoding.UTF8.GetBytes(body, utf8)));
            root = JsonElement.ParseValue(ref reader);
            _ = reader.Read();
        }
        catch (JsonException e)
        {
            return Problems.MalformedBody($"The body is not valid JSON: {e.Message}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(utf8);
        }

        return root.ValueKind == JsonValueKind.Object
            ? null
            : Problems.MalformedBody($"The body must be a JSON object, not {root.ValueKind.ToString().ToLowerInvariant()}.");
    }

    private static (string Route, IReadOnlyDictionary<string, string> Query) SplitQuery(string path)
    {
        var mark = path.IndexOf('?', StringComparison.Ordinal);
        if (mark < 0)
        {
            return (path, NoQuery);
        }

        var query = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in path[(mark + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? pair : pair[..eq];
            var value = eq < 0 ? "" : pair[(eq + 1)..];
            query[Decode(key)] = Decode(value);
        }

        return (path[..mark], query);
    }

    private static string Decode(string component) => Uri.UnescapeDataString(component.Replace('+', ' '));
}
