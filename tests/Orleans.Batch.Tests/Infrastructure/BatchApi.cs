using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>A thin HTTP client over the gateway, answering status and parsed JSON.</summary>
public sealed class BatchApi(HttpClient http)
{
    public async Task<ApiResponse> SendAsync(HttpMethod method, string path, object? body = null, IReadOnlyDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = body is string raw
                ? new StringContent(raw, Encoding.UTF8, "application/json")
                : JsonContent.Create(body);
        }

        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            Assert.True(request.Headers.TryAddWithoutValidation(name, value), $"Header {name} was not added.");
        }

        return await SendAsync(request);
    }

    /// <summary>Sends a request built by the caller (e.g. a file upload or an Accept header) and reads the answer.</summary>
    public async Task<ApiResponse> SendAsync(HttpRequestMessage request)
    {
        using var response = await http.SendAsync(request);
        return await ApiResponse.ReadAsync(response);
    }

    public Task<ApiResponse> PostAsync(string path, object? body) => SendAsync(HttpMethod.Post, path, body);

    public Task<ApiResponse> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    public Task<ApiResponse> PutAsync(string path, object? body) => SendAsync(HttpMethod.Put, path, body);

    public Task<ApiResponse> PatchAsync(string path, object? body) => SendAsync(HttpMethod.Patch, path, body);

    public Task<ApiResponse> DeleteAsync(string path) => SendAsync(HttpMethod.Delete, path);

    public Task<ApiResponse> BatchAsync(params object[] operations) => PostAsync("/batch", new { operations });

    public async Task<long> CreateUserAsync(string? email = null)
    {
        var response = await PostAsync("/users", new { email = email ?? Unique.Email(), name = "Test User" });
        Assert.Equal(HttpStatusCode.Created, response.Status);
        return response.Json.GetProperty("id").GetInt64();
    }

    public async Task<long> CreateProductAsync(decimal price = 9.99m)
    {
        var response = await PostAsync("/products", new { sku = Unique.Sku(), name = "Widget", price });
        Assert.Equal(HttpStatusCode.Created, response.Status);
        return response.Json.GetProperty("id").GetInt64();
    }

    public async Task<long> CreateOrderAsync(long userId, long productId)
    {
        var response = await PostAsync("/orders", new { userId, productId, quantity = 1 });
        Assert.Equal(HttpStatusCode.Created, response.Status);
        return response.Json.GetProperty("id").GetInt64();
    }
}

public sealed record ApiResponse(
    HttpStatusCode Status, string? ContentType, string? Location, string Text, string? Allow = null, string? ContentDisposition = null,
    string? RetryAfter = null)
{
    public JsonElement Json => JsonDocument.Parse(Text).RootElement;

    public static async Task<ApiResponse> ReadAsync(HttpResponseMessage response) => new(
        response.StatusCode,
        response.Content.Headers.ContentType?.MediaType,
        response.Headers.Location?.OriginalString,
        await response.Content.ReadAsStringAsync(),
        response.Content.Headers.Allow.Count == 0 ? null : string.Join(", ", response.Content.Headers.Allow),
        response.Content.Headers.ContentDisposition?.ToString(),
        response.Headers.RetryAfter?.ToString());

    /// <summary>The messages a problem's <c>errors</c> holds for one field.</summary>
    public string[] ErrorsFor(string field) =>
        Json.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out var messages)
            ? messages.EnumerateArray().Select(m => m.GetString()!).ToArray()
            : [];
}
