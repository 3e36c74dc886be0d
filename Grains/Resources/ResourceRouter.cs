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

    private readonly Dictionary<string, IResourceHandler> _handlers;

    public ResourceRouter(IEnumerable<IResourceHandler> handlers) =>
        _handlers = handlers.ToDictionary(h => h.Collection, StringComparer.Ordinal);

    /// <summary>
    /// Resolves an operation without touching the database: either its answer (404, 405, a malformed body) or the
    /// handler call to run on a session. Only routes that can change data are <see cref="RoutedOperation.Mutates"/>.
    /// </summary>
    public RoutedOperation Route(string method, string path, string? body)
    {
        method = method.ToUpperInvariant();
        var (route, query) = SplitQuery(path);
        var segments = route.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (!route.StartsWith('/') || segments.Length is 0 or > 2 || !_handlers.TryGetValue(segments[0], out var handler))
        {
            return RoutedOperation.Answer(Problems.NotFound($"No resource at '{route}'."));
        }

        if (segments.Length == 1)
        {
            return method switch
            {
                "GET" => RoutedOperation.Read((s, ct) => handler.ListAsync(s, query, ct)),
                "POST" => WithBody(body, b => RoutedOperation.Write((s, ct) => handler.CreateAsync(s, b, ct)) with { Creates = (handler, b) }),
                _ => RoutedOperation.Answer(Problems.MethodNotAllowed(method, route, CollectionMethods)),
            };
        }

        if (!long.TryParse(segments[1], NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id < 1)
        {
            return RoutedOperation.Answer(Problems.NotFound($"No resource at '{route}': ids are positive whole numbers."));
        }

        return method switch
        {
            "GET" => RoutedOperation.Read((s, ct) => handler.GetAsync(s, id, ct)),
            "PUT" => WithBody(body, b => Update(handler, new ItemUpdate(id, b, Partial: false))),
            "PATCH" => WithBody(body, b => Update(handler, new ItemUpdate(id, b, Partial: true))),
            "DELETE" => RoutedOperation.Write((s, ct) => handler.DeleteAsync(s, id, ct)) with { Deletes = (handler, id) },
            _ => RoutedOperation.Answer(Problems.MethodNotAllowed(method, route, ItemMethods)),
        };
    }

    /// <summary>Routes and, when the route needs the database, runs the operation on <paramref name="session"/>.</summary>
    public Task<ResourceResponse> RouteAsync(DbSession session, string method, string path, string? body, CancellationToken cancellationToken)
    {
        var routed = Route(method, path, body);
        return routed.Immediate is { } answer ? Task.FromResult(answer) : routed.Run!(session, cancellationToken);
    }

    private static RoutedOperation Update(IResourceHandler handler, ItemUpdate update) =>
        RoutedOperation.Write((s, ct) => handler.UpdateAsync(s, update.Id, update.Body, update.Partial, ct)) with { Updates = (handler, update) };

    /// <summary>The operation <paramref name="route"/> makes of the parsed body, or the answer to a missing or malformed one.</summary>
    private static RoutedOperation WithBody(string? body, Func<JsonElement, RoutedOperation> route)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return RoutedOperation.Answer(Problems.MalformedBody("A JSON object body is required."));
        }

        JsonElement root;
        try
        {
            // One exactly sized document the element keeps, rather than a pooled one copied out by Clone. Reading on
            // past the value throws on anything but whitespace after it, as JsonDocument.Parse would.
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(body));
            root = JsonElement.ParseValue(ref reader);
            _ = reader.Read();
        }
        catch (JsonException e)
        {
            return RoutedOperation.Answer(Problems.MalformedBody($"The body is not valid JSON: {e.Message}"));
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            return RoutedOperation.Answer(
                Problems.MalformedBody($"The body must be a JSON object, not {root.ValueKind.ToString().ToLowerInvariant()}."));
        }

        return route(root);
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
