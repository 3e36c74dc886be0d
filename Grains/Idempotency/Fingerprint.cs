using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Orleans.Batch.Grains.Idempotency;

/// <summary>What makes two requests under one key "the same": method, path and body, the body compared as compact JSON.</summary>
public static class Fingerprint
{
    public static byte[] Of(string method, string path, string? body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{method.ToUpperInvariant()}\n{path}\n"));
        hash.AppendData(Canonical(body));
        return hash.GetHashAndReset();
    }

    private static byte[] Canonical(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return [];
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                document.RootElement.WriteTo(writer);
            }

            return buffer.ToArray();
        }
        catch (JsonException)
        {
            return Encoding.UTF8.GetBytes(body);
        }
    }
}
