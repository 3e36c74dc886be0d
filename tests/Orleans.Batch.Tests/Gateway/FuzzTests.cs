using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Orleans.Batch.Tests.Infrastructure;
using static Orleans.Batch.Tests.Infrastructure.BatchLifecycle;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>
/// Thousands of generated bad requests across every route, from several clients at once with valid batches between
/// them: none is answered 5xx, every error is problem details, none hangs, and every valid batch succeeds. Most are sent
/// with the fixture tenant's writer key; the rest with another tenant's key (aimed at the owner's batch and rows, which it
/// must not tell from missing ones), a reader's, a revoked or a malformed one. The seed is
/// random and printed on failure; <c>BATCH_FUZZ_SEED=N ./test.sh --filter FuzzTests</c> runs that seed again.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class FuzzTests(ClusterFixture fixture)
{
    private const int Requests = 2400;
    private const int Clients = 6;
    private const int ValidEvery = 12;
    private static readonly TimeSpan PerRequest = TimeSpan.FromSeconds(20);

    private static readonly string[] Methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND", "BREW"];

    private static readonly string[] EvilStrings =
    [
        "", "\\u0000", "a\\u0000b", "\\ud800", "x\\udc00", "\\ud83d\\ude00", "\\ufeffbom@example.com", "\\u202eevil", "%00", "%ff",
        "../../etc/passwd", "\\n\\r\\t", "null", "𝄞 ü", "\\\"quoted\\\"", "<script>", "'; DROP TABLE users; --", "a@b.co",
        "{{{", "\\\\", " ", "GET", "/users", "1e999",
    ];

    private static readonly string[] EvilNumbers = ["0", "-1", "1.5", "-0", "1e400", "-1e400", "1e-400", "12345678901234567890123456789", "2147483648", "9223372036854775808", "NaN"];

    private static readonly string[] Paths =
    [
        "/users", "/users/1", "/users/abc", "/users/0", "/users/-1", "/users/99999999999999999999", "/products", "/products/1", "/orders",
        "/orders/1", "/users?limit=abc", "/users?limit=-5&after=x", "/users?email=%00", "/users?email=%ed%a0%80", "/orders?status=weird&userId=x",
        "/nowhere", "users", "/users/1/2/3", "/%ff", "//", "/users/1?", "/batch", "/health", "/users/%2e%2e",
    ];

    private readonly BatchApi _api = new(fixture.Http);

    [Fact]
    public async Task GeneratedBadRequests_OnEveryRoute_AreProblemsNeverServerErrors_AndValidBatchesAlongsideSucceed()
    {
        var seed = Environment.GetEnvironmentVariable("BATCH_FUZZ_SEED") is { Length: > 0 } given
            ? int.Parse(given, System.Globalization.CultureInfo.InvariantCulture)
            : Random.Shared.Next();
        var existing = (await _api.BatchAsync(CreateUser("seed", Unique.Email("fuzz")))).BatchId();
        var ownedEmail = Unique.Email("fuzz-owned");
        var ownedUser = await _api.CreateUserAsync(ownedEmail);
        var owned = new[] { $"/users/{ownedUser}", $"/users/{ownedUser}", $"/orders/{await _api.CreateOrderAsync(ownedUser, await _api.CreateProductAsync())}" };
        var callers = await CallersAsync();
        var server = fixture.Http.BaseAddress!;
        var failures = new ConcurrentQueue<string>();
        var validSent = 0;
        var clock = Stopwatch.StartNew();

        await Task.WhenAll(Enumerable.Range(0, Clients).Select(client => Task.Run(async () =>
        {
            var random = new Random(seed + client);
            for (var i = 0; i < Requests / Clients; i++)
            {
                var (caller, line) = PickCaller(random, callers);
                var fuzz = WithCredential(Generate(random, existing, caller == Caller.OtherTenant ? owned : []), line);
                try
                {
                    var response = await RawHttp.SendAsync(server, fuzz.Bytes, PerRequest, fuzz.TruncateAt);
                    if ((Check(fuzz, response) ?? CheckCaller(caller, fuzz, response)) is { } wrong)
                    {
                        failures.Enqueue($"client {client} #{i} {fuzz.Name} as {caller}: {wrong}\n    sent: {Show(fuzz.Bytes)}");
                    }
                }
                catch (InvalidDataException) when (fuzz.TruncateAt >= 0)
                {
                    // A client that closed its side mid-body has left: the server may stop its answer part way.
                }
                catch (Exception e)
                {
                    failures.Enqueue($"client {client} #{i} {fuzz.Name} as {caller}: {e.GetType().Name}: {e.Message}\n    sent: {Show(fuzz.Bytes)}");
                }

                if (i % ValidEvery == 0)
                {
                    Interlocked.Increment(ref validSent);
                    var valid = await _api.BatchAsync(CreateUser("v", Unique.Email("fuzz-valid")), new { id = "g", method = "GET", path = "/users?limit=1" });
                    if (valid.Status != HttpStatusCode.OK)
                    {
                        failures.Enqueue($"client {client} #{i}: a valid batch answered {(int)valid.Status}: {valid.Text}");
                    }
                }
            }
        })));

        var health = await _api.GetAsync("/health");
        Assert.True(failures.IsEmpty,
            $"seed {seed} (BATCH_FUZZ_SEED={seed} repeats it): {failures.Count} of {Requests} bad and {validSent} valid requests went wrong " +
            $"in {clock.Elapsed.TotalSeconds:0} s:\n{string.Join("\n", failures.Take(15))}");
        Assert.Equal(HttpStatusCode.OK, health.Status);
        Assert.True(validSent >= Requests / ValidEvery);
        // The other tenant's writes to the owner's rows changed nothing.
        Assert.Equal(ownedEmail, ApiAssert.Json(await _api.GetAsync($"/users/{ownedUser}"), HttpStatusCode.OK).Str("email"));
    }

    /// <summary>Who sends a request: the fixture tenant's writer, another tenant's writer, a reader, a revoked key, or something malformed.</summary>
    private enum Caller
    {
        Owner,
        OtherTenant,
        Reader,
        Revoked,
        Malformed,
    }

    private sealed record Callers(string OtherTenant, string Reader, string Revoked);

    private async Task<Callers> CallersAsync()
    {
        var other = await fixture.CreateKeyAsync(await fixture.CreateTenantAsync(), "writer");
        var reader = await fixture.CreateKeyAsync(fixture.Tenant, "reader");
        var revoked = await fixture.CreateKeyAsync(fixture.Tenant, "writer");
        Assert.True(await fixture.Grains.GetGrain<Orleans.Batch.Grains.Interfaces.Tenancy.IApiKeyGrain>(revoked.Info.KeyId).RevokeAsync());
        return new Callers($"Authorization: Bearer {other.Key}", $"X-Api-Key: {reader.Key}", $"Authorization: Bearer {revoked.Key}");
    }

    private (Caller, string) PickCaller(Random random, Callers callers) => random.Next(20) switch
    {
        < 12 => (Caller.Owner, fixture.AuthorizationLine),
        < 15 => (Caller.OtherTenant, callers.OtherTenant),
        < 17 => (Caller.Reader, callers.Reader),
        < 18 => (Caller.Revoked, callers.Revoked),
        _ => (Caller.Malformed, Pick(random, [
            "Authorization: Bearer", "Authorization: Bearer obk_", "Authorization: Basic Zm9vOmJhcg==", "X-Api-Key: ",
            "Authorization: Bearer obk_000000000000_" + new string('A', 43), "Authorization: Bearer " + new string('k', 5000),
            "Authorization: Bearer a.b.c", "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJ0ZW5hbnQiOiJ4Iiwicm9sZSI6IndyaXRlciJ9.",
            "X-Api-Key: obk_%00_x", "Authorization: bearer  obk_1_2 extra",
        ])),
    };

    /// <summary>
    /// What a caller must never get: another tenant an answer that tells the owner's object from a missing one, a revoked or
    /// malformed credential anything but a refusal, a reader a change.
    /// </summary>
    private static string? CheckCaller(Caller caller, Fuzz fuzz, RawHttp.Response? response)
    {
        if (response is null)
        {
            return null;
        }

        var requestLine = Encoding.ASCII.GetString(fuzz.Bytes, 0, Math.Max(0, Array.IndexOf(fuzz.Bytes, (byte)'\r'))).Split(' ');
        var method = requestLine[0];
        var path = requestLine.Length > 1 ? requestLine[1] : "";
        var accepted = response.Status is >= 200 and < 400;
        return caller switch
        {
            // 409 and 422 may come from the request's own body before any look-up; the exact answers are compared in ObjectLevelAuthorizationTests.
            Caller.OtherTenant when fuzz.Owned && (accepted || response.Status is 403 or 410) =>
                $"another tenant's request for the owner's object answered {response.Status}: {response.Text}",
            Caller.Revoked or Caller.Malformed when accepted && !path.StartsWith("/health", StringComparison.Ordinal) =>
                $"a {caller} credential was answered {response.Status}: {response.Text}",
            Caller.Reader when accepted && method is not ("GET" or "HEAD" or "OPTIONS") =>
                $"a reader's {method} was answered {response.Status}: {response.Text}",
            _ => null,
        };
    }

    /// <param name="Name">What kind of bad request it is.</param>
    /// <param name="Bytes">The whole request.</param>
    /// <param name="TruncateAt">Send only this many bytes, then close (a body cut short); -1 sends it all.</param>
    /// <param name="Owned">It targets the owner's batch or row (what another tenant must not tell from a missing one).</param>
    private sealed record Fuzz(string Name, byte[] Bytes, int TruncateAt = -1, bool Owned = false);

    /// <summary><paramref name="fuzz"/> with <paramref name="authorizationLine"/> after its request line.</summary>
    private static Fuzz WithCredential(Fuzz fuzz, string authorizationLine)
    {
        var line = Array.IndexOf(fuzz.Bytes, (byte)'\n') + 1;
        var header = Encoding.ASCII.GetBytes(authorizationLine + "\r\n");
        return fuzz with
        {
            Bytes = [.. fuzz.Bytes.AsSpan(0, line), .. header, .. fuzz.Bytes.AsSpan(line)],
            TruncateAt = fuzz.TruncateAt < 0 ? -1 : fuzz.TruncateAt + header.Length,
        };
    }

    private static string? Check(Fuzz fuzz, RawHttp.Response? response)
    {
        if (response is null)
        {
            // A client that closed its side mid-body has left: the server may close without an answer.
            return fuzz.TruncateAt >= 0 ? null : "the connection closed without an answer";
        }

        if (response.Status >= 500)
        {
            return $"answered {response.Status}: {response.Text}";
        }

        if (response.Status < 400)
        {
            return null;
        }

        if (response.ContentType != "application/problem+json")
        {
            return $"answered {response.Status} as {response.ContentType ?? "no content type"}: {response.Text}";
        }

        try
        {
            var problem = JsonDocument.Parse(response.Body).RootElement;
            return problem.GetProperty("type").GetString()!.StartsWith(ApiAssert.ProblemTypePrefix, StringComparison.Ordinal)
                && !string.IsNullOrEmpty(problem.GetProperty("title").GetString())
                && problem.GetProperty("status").GetInt32() == response.Status
                ? null
                : $"answered {response.Status} with a problem lacking type, title or status: {response.Text}";
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return $"answered {response.Status} with a body that is not a problem: {response.Text}";
        }
    }

    /// <param name="owned">Paths of the owner's rows, for another tenant's requests; empty for the others.</param>
    private static Fuzz Generate(Random random, string existing, string[] owned) => random.Next(100) switch
    {
        < 40 => Batch(random),
        < 52 => BatchCommand(random, existing),
        < 64 => Import(random),
        < 84 => Resource(random, owned),
        < 90 => Elsewhere(random),
        _ => RawBytes(random),
    };

    private static Fuzz Batch(Random random)
    {
        var body = random.Next(10) switch
        {
            0 => Deep(random),
            1 => Pick(random, ["", "{", "[]", "null", "\"operations\"", "{\"operations\":", "not json", "{\"operations\":[]}", "{\"operations\":{}}"]),
            2 => $"{{\"operations\":[{string.Join(",", Enumerable.Repeat("{\"id\":\"x\"}", 1001))}]}}",
            _ => Envelope(random),
        };
        var bytes = Encoding.UTF8.GetBytes(body);
        var name = "batch";
        switch (random.Next(8))
        {
            case 0 when bytes.Length > 2:
                bytes = bytes[..random.Next(1, bytes.Length)];
                name += " truncated";
                break;
            case 1:
                bytes = Corrupt(random, bytes);
                name += " invalid UTF-8";
                break;
        }

        var headers = new List<string> { ContentType(random, "application/json") };
        if (random.Next(4) == 0)
        {
            headers.Add(IdempotencyKey(random));
        }

        return new Fuzz(name, RawHttp.Request("POST", "/batch"u8.ToArray(), headers.Where(h => h.Length > 0), bytes));
    }

    private static string Envelope(Random random)
    {
        var fields = new List<string>();
        if (random.Next(10) > 0)
        {
            var operations = Enumerable.Range(0, random.Next(1, 6)).Select(_ => Operation(random));
            fields.Add(random.Next(8) > 0 ? $"\"operations\":[{string.Join(",", operations)}]" : $"\"operations\":{Value(random, 2)}");
        }

        if (random.Next(3) == 0)
        {
            fields.Add($"\"concurrency\":{(random.Next(2) == 0 ? Pick(random, EvilNumbers) : Value(random, 1))}");
        }

        if (random.Next(3) == 0)
        {
            fields.Add($"\"mode\":{Pick(random, ["\"sync\"", "\"async\"", "\"auto\"", "\"1\"", "\"SYNC\"", "5", "null", "\"\\u0000\""])}");
        }

        if (random.Next(6) == 0)
        {
            fields.Add($"\"{Pick(random, ["dependsOn", "Operations", "mode ", "\\u0000", "\\ud800"])}\":{Value(random, 1)}");
        }

        return "{" + string.Join(",", fields.OrderBy(_ => random.Next())) + "}";
    }

    private static string Operation(Random random)
    {
        var fields = new List<string>();
        void Add(string name, Func<string> good)
        {
            switch (random.Next(10))
            {
                case 0:
                    return;
                case 1:
                    fields.Add($"\"{name}\":{Value(random, 2)}");
                    return;
                case 2 or 3:
                    fields.Add($"\"{name}\":\"{Pick(random, EvilStrings)}\"");
                    return;
                default:
                    fields.Add($"\"{name}\":{good()}");
                    return;
            }
        }

        Add("id", () => $"\"op{random.Next(5)}\"");
        Add("method", () => $"\"{Pick(random, Methods)}\"");
        Add("path", () => $"\"{Pick(random, Paths)}\"");
        if (random.Next(2) == 0)
        {
            Add("body", () => ResourceBody(random));
        }

        if (random.Next(4) == 0)
        {
            Add("headers", () => $"{{\"{Pick(random, ["x-a", "\\u0000", "content-type", "\\ud800"])}\":\"{Pick(random, EvilStrings)}\"}}");
        }

        if (random.Next(4) == 0)
        {
            Add("idempotencyKey", () => $"\"k-{random.Next(1000)}\"");
        }

        if (random.Next(8) == 0)
        {
            fields.Add($"\"{Pick(random, ["bodyy", "dependsOn", "ID", "\\u0000"])}\":1");
        }

        return "{" + string.Join(",", fields.OrderBy(_ => random.Next())) + "}";
    }

    private static string ResourceBody(Random random)
    {
        if (random.Next(6) == 0)
        {
            return Value(random, 3);
        }

        string[] names = ["email", "name", "sku", "price", "userId", "productId", "quantity", "status", "extra", "Email", "\\u0000", "na\\ud800me"];
        var fields = Enumerable.Range(0, random.Next(0, 5)).Select(_ =>
        {
            var name = Pick(random, names);
            var value = random.Next(3) switch
            {
                0 => $"\"{Pick(random, EvilStrings)}\"",
                1 => Pick(random, EvilNumbers),
                _ => Value(random, 2),
            };
            return $"\"{name}\":{value}";
        });
        return "{" + string.Join(",", fields) + "}";
    }

    private static Fuzz BatchCommand(Random random, string existing)
    {
        var id = Pick(random, [existing, existing, Unique.Token(), "%00", "%ff%fe", new string('a', 300), "..", "%2F", "x%20y", "%ed%a0%80"]);
        var (method, command) = Pick(random, [("GET", "status"), ("GET", "results"), ("POST", "cancel"), ("POST", "retry"), ("DELETE", "status"), ("GET", "nothing")]);
        var query = Pick(random, [
            "", "?wait=abc", "?wait=-1", "?wait=100000", "?wait=1", "?wait=0", "?limit=0", "?limit=abc", "?limit=100000", "?limit=1",
            "?cursor=-1", "?cursor=abc", "?cursor=99999999999", "?status=xyz", "?status=failed", "?format=pdf", "?format=csv",
            "?format=ndjson", "?limit=%00", "?status=%ff",
        ]);
        var headers = random.Next(3) == 0 ? [$"Accept: {Pick(random, ["text/csv", "application/x-ndjson", "text/html", "*/*", "application/xml"])}"] : Array.Empty<string>();
        // Kestrel refuses a path that decodes to a NUL itself (answered as problem details all the same).
        return new Fuzz($"batch {command}", RawHttp.Request(method, Encoding.ASCII.GetBytes($"/batch/{id}/{command}{query}"), headers, method == "POST" ? [] : null),
            Owned: id == existing);
    }

    private static Fuzz Import(Random random)
    {
        string[] csvs =
        [
            "", "email,name\n", "email,name\n\"unclosed,x\n", "email\nx@y.co\n", "name,email\na,b\n", "a,b,c\nx,y,z\n",
            "email,name\nnul\0@x.co,N\n", "email,name\n\"a\"b,c\n", $"email,name\n{Unique.Email("fuzz-import")},Fuzz\n",
            "email,name\r\nx@y.co,\"quoted \"\" ok\"\r\n", "\ufeffemail,name\nx@y.co,N\n",
        ];
        var csv = Encoding.UTF8.GetBytes(Pick(random, csvs));
        if (random.Next(5) == 0)
        {
            csv = Corrupt(random, [.. "email,name\nx@y.co,Name\n"u8]);
        }

        var query = Pick(random, ["", "", "?concurrency=abc", "?concurrency=-1", "?concurrency=99999999999", "?concurrency=2"]);
        var headers = new List<string>();
        byte[] body;
        var truncate = -1;
        switch (random.Next(4))
        {
            case 0:
                headers.Add(ContentType(random, "text/csv"));
                body = csv;
                break;
            default:
                var boundary = "fuzz" + random.Next(1000);
                headers.Add(Pick(random, [$"Content-Type: multipart/form-data; boundary={boundary}", "Content-Type: multipart/form-data", $"Content-Type: multipart/form-data; boundary=other{boundary}", $"Content-Type: multipart/mixed; boundary={boundary}"]));
                var part = Pick(random, [
                    "Content-Disposition: form-data; name=\"file\"; filename=\"users.csv\"\r\nContent-Type: text/csv\r\n",
                    "", "Content-Disposition: form-data; name=\"note\"\r\n", "Content-Disposition: garbage\r\n", "No-Colon-Here\r\n",
                ]);
                body = [.. Encoding.ASCII.GetBytes($"--{boundary}\r\n{part}\r\n"), .. csv, .. Encoding.ASCII.GetBytes(Pick(random, [$"\r\n--{boundary}--\r\n", "", $"\r\n--{boundary}\r\n", "\r\n--"]))];
                break;
        }

        if (random.Next(4) == 0)
        {
            headers.Add(IdempotencyKey(random));
        }

        if (random.Next(8) == 0 && body.Length > 4)
        {
            // A body cut short of its declared length: the client closes the connection half-way.
            truncate = body.Length / 2;
        }

        var request = RawHttp.Request("POST", Encoding.ASCII.GetBytes("/batch/users/import" + query), headers.Where(h => h.Length > 0), body);
        return new Fuzz("import", request, TruncateAt: truncate < 0 ? -1 : request.Length - body.Length + truncate);
    }

    private static Fuzz Resource(Random random, string[] owned)
    {
        var method = Pick(random, ["GET", "POST", "PUT", "PATCH", "DELETE", "POST", "PUT", "OPTIONS"]);
        var isOwned = owned.Length > 0 && random.Next(2) == 0;
        var path = isOwned ? Pick(random, owned) : Pick(random, [
            "/users", "/products", "/orders", "/users/1", "/products/1", "/orders/1", "/users/abc", "/users/0", "/users/99999999999999999999",
            "/orders/-3", "/users?limit=abc&after=%00", "/users?email=%00", "/users?email=%ff", "/products?sku=%ed%a0%80", "/orders?status=x&userId=y",
            "/users/1/extra", "/users?" + new string('q', 3000),
        ]);
        var body = method is "POST" or "PUT" or "PATCH" ? Encoding.UTF8.GetBytes(random.Next(8) == 0 ? Deep(random) : ResourceBody(random)) : null;
        if (body is not null && random.Next(8) == 0)
        {
            body = Corrupt(random, body);
        }

        var headers = new List<string> { ContentType(random, "application/json") };
        if (random.Next(4) == 0 && !isOwned)
        {
            headers.Add(IdempotencyKey(random));
        }

        return new Fuzz($"{method} resource", RawHttp.Request(method, Encoding.ASCII.GetBytes(path), headers.Where(h => h.Length > 0), body), Owned: isOwned);
    }

    private static Fuzz Elsewhere(Random random)
    {
        var (method, path) = Pick(random, [
            ("GET", "/health"), ("POST", "/health"), ("DELETE", "/health"), ("GET", "/"), ("GET", "/nowhere"), ("BREW", "/users"),
            ("GET", "/batch"), ("PUT", "/batch"), ("GET", "/batch/users/import"), ("GET", "/" + new string('p', 9000)),
            ("GET", "/users/" + new string('9', 100)), ("POST", "/users/1"), ("PATCH", "/users"),
        ]);
        var headers = random.Next(2) == 0 ? [$"Accept: {Pick(random, ["text/html", "*/*", "application/json", "text/plain", "image/png"])}"] : Array.Empty<string>();
        return new Fuzz($"{method} {path[..Math.Min(path.Length, 30)]}", RawHttp.Request(method, Encoding.ASCII.GetBytes(path), headers, null));
    }

    /// <summary>Bytes no HTTP client library would send: the web server refuses some itself (see KestrelErrorBodies).</summary>
    private static Fuzz RawBytes(Random random)
    {
        switch (random.Next(9))
        {
            case 0:
                return new Fuzz("target with bad bytes", RawHttp.Request("GET", [.. "/users/"u8, .. Pick(random, new byte[][] { [0xFF, 0xFE], [0x00], [0xED, 0xA0, 0x80], [0x7F], [0x01] })], [], null));
            case 1:
                return new Fuzz("target %00", RawHttp.Request("GET", Encoding.ASCII.GetBytes(Pick(random, ["/users/%00", "/%00", "/batch/%00/status"])), [], null));
            case 2:
                return new Fuzz("header with bad bytes", RawHttp.Request("GET", "/health"u8.ToArray(), [Pick(random, ["X-A: a\0b", "X-A: \u00ff\u00fe", "Bad Name: x", "NoColon", " folded: x", "Idempotency-Key: \u0001"])], null));
            case 3:
                return new Fuzz("header too large", RawHttp.Request("GET", "/health"u8.ToArray(), [$"X-Big: {new string('h', 40_000)}"], null));
            case 4:
                return new Fuzz("too many headers", RawHttp.Request("GET", "/health"u8.ToArray(), Enumerable.Range(0, 120).Select(i => $"X-H{i}: v"), null));
            case 5:
                return new Fuzz("idempotency key too long", RawHttp.Request("POST", "/batch"u8.ToArray(),
                    ["Content-Type: application/json", $"Idempotency-Key: {new string('k', random.Next(256, 5000))}"], "{\"operations\":[{\"id\":\"a\",\"method\":\"GET\",\"path\":\"/users/1\"}]}"u8.ToArray()));
            case 6:
                return new Fuzz("bad content length", RawHttp.Request("POST", "/batch"u8.ToArray(), ["Content-Type: application/json", Pick(random, ["Content-Length: abc", "Content-Length: -1", "Content-Length: 5, 6", "Transfer-Encoding: gzip"])], "{}"u8.ToArray(), declareLength: false));
            case 7:
                var body = "{\"operations\":[{\"id\":\"a\",\"method\":\"GET\",\"path\":\"/users/1\"}]}"u8.ToArray();
                var request = RawHttp.Request("POST", "/batch"u8.ToArray(), ["Content-Type: application/json"], body);
                return new Fuzz("body cut short", request, TruncateAt: request.Length - body.Length / 2);
            default:
                return new Fuzz("bad chunked body", RawHttp.Request("POST", "/users"u8.ToArray(), ["Content-Type: application/json", "Transfer-Encoding: chunked"], "zz\r\n{}\r\n0\r\n\r\n"u8.ToArray(), declareLength: false));
        }
    }

    private static string Deep(Random random)
    {
        var depth = random.Next(65, 3000);
        return random.Next(2) == 0
            ? new string('[', depth) + new string(']', depth)
            : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);
    }

    /// <summary>A random JSON value, nested up to <paramref name="depth"/>, huge strings and numbers included.</summary>
    private static string Value(Random random, int depth) => random.Next(depth > 0 ? 9 : 6) switch
    {
        0 => $"\"{Pick(random, EvilStrings)}\"",
        1 => Pick(random, EvilNumbers),
        2 => Pick(random, ["true", "false", "null"]),
        3 => $"\"{new string('x', random.Next(1, 4) == 1 ? random.Next(100_000, 300_000) : random.Next(0, 300))}\"",
        4 => "[]",
        5 => "{}",
        6 => $"[{string.Join(",", Enumerable.Range(0, random.Next(1, 4)).Select(_ => Value(random, depth - 1)))}]",
        _ => $"{{\"{Pick(random, ["a", "id", "\\u0000", "\\ud800"])}\":{Value(random, depth - 1)}}}",
    };

    /// <summary>Puts bytes that are not UTF-8 (an encoded surrogate, a stray continuation, 0xFF) somewhere in <paramref name="bytes"/>.</summary>
    private static byte[] Corrupt(Random random, byte[] bytes)
    {
        var at = random.Next(bytes.Length + 1);
        return [.. bytes[..at], .. Pick(random, new byte[][] { [0xED, 0xA0, 0x80], [0x80], [0xFF], [0xC3], [0xF4, 0x90, 0x80, 0x80] }), .. bytes[at..]];
    }

    private static string ContentType(Random random, string right) => random.Next(6) switch
    {
        0 => "",
        1 => "Content-Type: " + Pick(random, ["text/plain", "application/xml", "a/b/c", "application/json; charset=latin1", "multipart/form-data", "*/*", ";;;"]),
        _ => "Content-Type: " + right,
    };

    private static string IdempotencyKey(Random random) =>
        "Idempotency-Key: " + Pick(random, ["", " ", $"fuzz-{random.Next(50)}", new string('k', 300), "%00", "a b c"]);

    private static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];

    private static string Show(byte[] request)
    {
        var text = Encoding.Latin1.GetString(request, 0, Math.Min(request.Length, 300));
        return text.Replace("\r\n", "\\r\\n", StringComparison.Ordinal) + (request.Length > 300 ? $"… ({request.Length} bytes)" : "");
    }
}
