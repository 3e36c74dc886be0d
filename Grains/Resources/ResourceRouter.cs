using System.Globalization;
using System.Text.Json;

namespace Orleans.Batch.Grains.Resources;

/// <summary>
/// Turns an HTTP-shaped operation into a call on its resource handler. Single-resource requests and batch items
/// both come through here, so an item answers exactly what the single request would.
/// </summary>
public sealed class ResourceRouter
{
    private static readonly string[] CollectionMethods = ["GET", "POST"];
    private static readonly string[] ItemMethods = ["GET", "PUT", "PATCH", "DELETE"];

    private readonly Dictionary<string, IResourceHandler> _handlers;

    public ResourceRouter(IEnumerable<IResourceHandler> handlers) =>
        _handlers = handlers.ToDictionary(h => h.Collection, StringComparer.Ordinal);

    public Task<ResourceResponse> RouteAsync(string method, string path, string? body, CancellationToken cancellationToken)
    {
        method = method.ToUpperInvariant();
        var (route, query) = SplitQuery(path);
        var segments = route.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (!route.StartsWith('/') || segments.Length is 0 or > 2 || !_handlers.TryGetValue(segments[0], out var handler))
        {
            return Task.FromResult(Problems.NotFound($"No resource at '{route}'."));
        }

        if (segments.Length == 1)
        {
            return method switch
            {
                "GET" => handler.ListAsync(query, cancellationToken),
                "POST" => WithBody(body, b => handler.CreateAsync(b, cancellationToken)),
                _ => Task.FromResult(Problems.MethodNotAllowed(method, route, CollectionMethods)),
            };
        }

        if (!long.TryParse(segments[1], NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id < 1)
        {
            return Task.FromResult(Problems.NotFound($"No resource at '{route}': ids are positive whole numbers."));
        }

        return method switch
        {
            "GET" => handler.GetAsync(id, cancellationToken),
            "PUT" => WithBody(body, b => handler.UpdateAsync(id, b, partial: false, cancellationToken)),
            "PATCH" => WithBody(body, b => handler.UpdateAsync(id, b, partial: true, cancellationToken)),
            "DELETE" => handler.DeleteAsync(id, cancellationToken),
            _ => Task.FromResult(Problems.MethodNotAllowed(method, route, ItemMethods)),
        };
    }

    private static async Task<ResourceResponse> WithBody(string? body, Func<JsonElement, Task<ResourceResponse>> handle)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return Problems.MalformedBody("A JSON object body is required.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            return Problems.MalformedBody($"The body is not valid JSON: {e.Message}");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return Problems.MalformedBody($"The body must be a JSON object, not {document.RootElement.ValueKind.ToString().ToLowerInvariant()}.");
            }

            return await handle(document.RootElement).ConfigureAwait(false);
        }
    }

    private static (string Route, IReadOnlyDictionary<string, string> Query) SplitQuery(string path)
    {
        var mark = path.IndexOf('?', StringComparison.Ordinal);
        if (mark < 0)
        {
            return (path, new Dictionary<string, string>());
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
