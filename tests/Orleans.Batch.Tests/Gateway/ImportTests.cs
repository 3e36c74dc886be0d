using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Gateway;

/// <summary><c>POST /batch/users/import</c>: CSV uploads of users, as the body or as a multipart file.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ImportTests(ClusterFixture fixture)
{
    private static readonly string[] ImportColumns = ["row", "email", "name", "status", "outcome", "userId", "error"];

    private readonly BatchApi _api = new(fixture.Http);

    [Fact]
    public async Task TextCsv_Returns202_CompletesWithExactCounts_AndTheResultsFileHasEveryRowInOrder()
    {
        var taken = Unique.Email("taken");
        await _api.CreateUserAsync(taken);
        var (ada, grace, many, plain) = (Unique.Email("ada"), Unique.Email("grace"), Unique.Email("many"), Unique.Email("plain"));
        var csv = $"email,name\r\n{ada},Ada Lovelace\r\nnot-an-email,Bad Email\r\n{grace},\"Hopper, Grace\"\r\n{many},Too,Many\r\n{taken.ToUpperInvariant()},Taken\r\n{plain},Plain\r\n";

        var response = await ImportAsync(csv);

        var batchId = AssertAccepted(response);
        var final = await _api.WaitUntilEndedAsync(batchId);
        Assert.Equal("completed", final.Str("status"));
        Assert.Equal((6, 6, 3, 3, 0), (final.Int("total"), final.Int("completed"), final.Int("succeeded"), final.Int("failed"), final.Int("cancelled")));

        var file = await DownloadAsync($"/batch/{batchId}/results?format=csv");
        Assert.Equal("text/csv", file.ContentType);
        Assert.StartsWith("attachment", file.ContentDisposition);
        var rows = Csv.Parse(file.Text);
        Assert.Equal(ImportColumns, rows[0]);
        Assert.Equal(7, rows.Count);
        Assert.All(rows, r => Assert.Equal(7, r.Length));
        Assert.Equal(["1", "2", "3", "4", "5", "6"], rows.Skip(1).Select(r => r[0]));
        Assert.Equal([ada, "not-an-email", grace, many, taken.ToUpperInvariant(), plain], rows.Skip(1).Select(r => r[1]));
        Assert.Equal(["Ada Lovelace", "Bad Email", "Hopper, Grace", "Too", "Taken", "Plain"], rows.Skip(1).Select(r => r[2]));
        Assert.Equal(["201", "400", "201", "400", "409", "201"], rows.Skip(1).Select(r => r[3]));
        Assert.Equal(["succeeded", "failed", "succeeded", "failed", "failed", "succeeded"], rows.Skip(1).Select(r => r[4]));
        foreach (var (row, email) in new[] { (1, ada), (3, grace), (6, plain) })
        {
            Assert.Equal((await UserIdAsync(email)).ToString(CultureInfo.InvariantCulture), rows[row][5]);
            Assert.Equal("", rows[row][6]);
        }

        Assert.All(new[] { 2, 4, 5 }, row => Assert.Equal("", rows[row][5]));
        Assert.StartsWith("email: ", rows[2][6]);
        Assert.Equal("Line 5 has 3 fields; a row needs exactly 2: email,name.", rows[4][6]);
        Assert.Equal("email: A user with this email already exists.", rows[5][6]);
        Assert.Equal(0, await fixture.Database.CountUsersAsync([many]));
    }

    [Fact]
    public async Task Results_AsJsonAndNdjson_CarryTheRowsSourceAndOutcome()
    {
        var (a, b) = (Unique.Email("src"), Unique.Email("src"));
        var batchId = AssertAccepted(await ImportAsync($"email,name\n{a},A\nbad,B\n{b},B,extra\n"));
        await _api.WaitUntilEndedAsync(batchId);

        var items = await _api.AllResultsAsync(batchId);
        var ndjson = await DownloadAsync($"/batch/{batchId}/results", "application/x-ndjson");

        Assert.Equal(["row-1", "row-2", "row-3"], items.Select(i => i.Str("id")));
        Assert.Equal([201, 400, 400], items.Select(i => i.Int("status")));
        Assert.Equal(["succeeded", "failed", "failed"], items.Select(i => i.Str("outcome")));
        Assert.Equal(ApiAssert.ProblemTypePrefix + "malformed-row", items[2].GetProperty("error").Str("type"));
        Assert.Equal("application/x-ndjson", ndjson.ContentType);
        var lines = ndjson.Text.TrimEnd('\n').Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["row-1", "row-2", "row-3"], lines.Select(l => l.Str("id")));
        Assert.Equal([a, "A"], lines[0].GetProperty("source").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal([b, "B", "extra"], lines[2].GetProperty("source").EnumerateArray().Select(s => s.GetString()));
    }

    [Theory]
    [InlineData("?format=csv&status=failed")]
    [InlineData("?format=csv&status=cancelled")]
    public async Task ResultsCsv_WithNoMatchingRows_StillHasTheImportColumns(string query)
    {
        var batchId = AssertAccepted(await ImportAsync($"email,name\n{Unique.Email("cols")},Cols\n"));
        Assert.Equal(1, (await _api.WaitUntilEndedAsync(batchId)).Int("succeeded"));

        var rows = Csv.Parse((await DownloadAsync($"/batch/{batchId}/results{query}")).Text);

        Assert.Equal(ImportColumns, Assert.Single(rows));
    }

    [Fact]
    public async Task Multipart_FileUpload_Returns202AndImports()
    {
        var emails = new[] { Unique.Email("multi"), Unique.Email("multi") };
        using var content = new MultipartFormDataContent();
        content.Add(new StringContent("just a note"), "note");
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes($"email,name\n{emails[0]},One\n{emails[1]},Two\n"));
        file.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        content.Add(file, "file", "users.csv");

        var response = await _api.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/batch/users/import") { Content = content });

        var batchId = AssertAccepted(response);
        var final = await _api.WaitUntilEndedAsync(batchId);
        Assert.Equal(("completed", 2, 2, 0), (final.Str("status"), final.Int("total"), final.Int("succeeded"), final.Int("failed")));
        Assert.Equal(2, await fixture.Database.CountUsersAsync(emails));
    }

    [Fact]
    public async Task Multipart_WithoutAFilePart_Returns400()
    {
        using var content = new MultipartFormDataContent();
        content.Add(new StringContent("email,name\nx@example.com,X\n"), "csv");

        var response = await _api.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/batch/users/import") { Content = content });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "invalid-csv");
    }

    [Fact]
    public async Task ManyRows_AcrossUploadSlices_AllImported()
    {
        var token = Unique.Token();
        var emails = Enumerable.Range(0, 1500).Select(i => $"bulk{i}-{token}@example.com").ToList();
        var csv = "email,name\n" + string.Concat(emails.Select((e, i) => $"{e},Bulk {i}\n"));

        var batchId = AssertAccepted(await ImportAsync(csv, "?concurrency=32"));

        var final = await _api.WaitUntilEndedAsync(batchId);
        Assert.Equal(("completed", 1500, 1500, 32), (final.Str("status"), final.Int("total"), final.Int("succeeded"), final.Int("concurrency")));
        var rows = Csv.Parse((await DownloadAsync($"/batch/{batchId}/results", "text/csv")).Text);
        Assert.Equal(1501, rows.Count);
        Assert.Equal(Enumerable.Range(1, 1500).Select(i => i.ToString(CultureInfo.InvariantCulture)), rows.Skip(1).Select(r => r[0]));
        Assert.Equal(emails, rows.Skip(1).Select(r => r[1]));
        Assert.Equal(1500, await fixture.Database.CountUsersAsync(emails));
    }

    [Fact]
    public async Task HeaderCaseAndSpaces_AreAccepted()
    {
        var email = Unique.Email("hdr");

        var batchId = AssertAccepted(await ImportAsync($"\uFEFF Email , NAME \n{email},Header\n"));

        Assert.Equal(1, (await _api.WaitUntilEndedAsync(batchId)).Int("succeeded"));
    }

    [Fact]
    public async Task MissingHeader_Returns400NamingLine1_AndImportsNothing()
    {
        var email = Unique.Email("nohdr");

        var response = await ImportAsync($"{email},No Header\n{Unique.Email()},Second\n");

        var problem = ApiAssert.Problem(response, HttpStatusCode.BadRequest, "invalid-csv");
        Assert.Equal(1, problem.Int("line"));
        Assert.Contains("Line 1", problem.Str("detail"));
        Assert.Equal(0, await fixture.Database.CountUsersAsync([email]));
    }

    [Theory]
    [InlineData("mail,name")]
    [InlineData("email")]
    [InlineData("name,email")]
    [InlineData("email,name,age")]
    [InlineData("email;name")]
    public async Task WrongHeader_Returns400(string header)
    {
        var email = Unique.Email("wronghdr");

        var response = await ImportAsync($"{header}\n{email},Wrong Header\n");

        Assert.Equal(1, ApiAssert.Problem(response, HttpStatusCode.BadRequest, "invalid-csv").Int("line"));
        Assert.Equal(0, await fixture.Database.CountUsersAsync([email]));
    }

    [Fact]
    public async Task UnterminatedQuote_AfterAFullSlice_Returns400NamingTheLine_AndImportsNothing()
    {
        var token = Unique.Token();
        var emails = Enumerable.Range(0, 1500).Select(i => $"unterminated{i}-{token}@example.com").ToList();
        var csv = "email,name\n" + string.Concat(emails.Select(e => $"{e},Early Row\n")) + $"late-{token}@example.com,\"Never closed\nmore text\n";

        var response = await ImportAsync(csv);

        var problem = ApiAssert.Problem(response, HttpStatusCode.BadRequest, "invalid-csv");
        Assert.Equal(1502, problem.Int("line"));
        Assert.Contains("1502", problem.Str("detail"));
        Assert.Contains("Nothing was imported", problem.Str("detail"));
        await AssertNothingImportedAsync(token, emails);
    }

    [Theory]
    [InlineData("{0},Nul\0Byte\n", 3)]
    [InlineData("{0},Has \"quote\" inside\n", 3)]
    [InlineData("{0},\"closed\" then text\n", 3)]
    [InlineData("\n\n{0},After blank lines\n{0}\0,Nul\n", 6)]
    public async Task MalformedLine_Returns400NamingTheLine_AndImportsNothing(string tail, int line)
    {
        var token = Unique.Token();
        var early = $"early-{token}@example.com";
        var csv = $"email,name\n{early},Early Row\n" + string.Format(CultureInfo.InvariantCulture, tail, $"later-{token}@example.com");

        var response = await ImportAsync(csv);

        var problem = ApiAssert.Problem(response, HttpStatusCode.BadRequest, "invalid-csv");
        Assert.Equal(line, problem.Int("line"));
        Assert.Contains($"{line}", problem.Str("detail"));
        var found = ApiAssert.Json(await _api.GetAsync($"/users?email={Uri.EscapeDataString(early)}"), HttpStatusCode.OK);
        Assert.Empty(found.GetProperty("items").EnumerateArray());
        await AssertNothingImportedAsync(token, [early]);
    }

    [Fact]
    public async Task MalformedFiles_AreAnsweredWithoutDroppingTheConnection()
    {
        var connections = 0;
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                Interlocked.Increment(ref connections);
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        using var http = new HttpClient(handler) { BaseAddress = fixture.Http.BaseAddress };
        http.DefaultRequestHeaders.Authorization = fixture.Http.DefaultRequestHeaders.Authorization;
        var api = new BatchApi(http);

        foreach (var csv in new[] { "no,header\n", "email,name\na@example.com,\"open\n", "email,name\na\0@example.com,Nul\nb@example.com,B\n" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/batch/users/import") { Content = new StringContent(csv) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
            ApiAssert.Problem(await api.SendAsync(request), HttpStatusCode.BadRequest, "invalid-csv");
        }

        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/health")).Status);
        Assert.Equal(1, connections);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\uFEFF")]
    [InlineData("\n\r\n\n")]
    public async Task EmptyBody_Returns400(string body)
    {
        var response = await ImportAsync(body);

        var problem = ApiAssert.Problem(response, HttpStatusCode.BadRequest, "invalid-csv");
        Assert.Equal(1, problem.Int("line"));
    }

    [Theory]
    [InlineData("email,name")]
    [InlineData("email,name\n")]
    [InlineData("email,name\r\n\r\n\n")]
    public async Task HeaderOnly_Returns400NamingTheLineAfterTheHeader(string body)
    {
        var response = await ImportAsync(body);

        var problem = ApiAssert.Problem(response, HttpStatusCode.BadRequest, "invalid-csv");
        Assert.Equal(2, problem.Int("line"));
        Assert.Contains("no data rows", problem.Str("detail"));
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("text/plain")]
    [InlineData("multipart/form-data")]
    [InlineData(null)]
    public async Task WrongContentType_Returns415(string? contentType)
    {
        var email = Unique.Email("ctype");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/batch/users/import");
        request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes($"email,name\n{email},Type\n"));
        if (contentType is not null)
        {
            Assert.True(request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType));
        }

        var response = await _api.SendAsync(request);

        ApiAssert.Problem(response, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        Assert.Equal(0, await fixture.Database.CountUsersAsync([email]));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("")]
    [InlineData("99999999999")]
    public async Task InvalidConcurrency_Returns400NamingIt(string concurrency)
    {
        var email = Unique.Email("conc");

        var response = await ImportAsync($"email,name\n{email},Concurrency\n", $"?concurrency={concurrency}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "concurrency");
        Assert.Equal(0, await fixture.Database.CountUsersAsync([email]));
    }

    [Fact]
    public async Task Retry_RunsFailedRowsAgain_ButNotRowsThatAreNoUser()
    {
        var taken = Unique.Email("imp-taken");
        var blocker = await _api.CreateUserAsync(taken);
        var fresh = Unique.Email("imp-fresh");
        var batchId = AssertAccepted(await ImportAsync($"email,name\n{fresh},Fresh\n{taken},Taken\nonly-one-field\n"));
        var first = await _api.WaitUntilEndedAsync(batchId);
        Assert.Equal((1, 2), (first.Int("succeeded"), first.Int("failed")));
        ApiAssert.Empty(await _api.DeleteAsync($"/users/{blocker}"), HttpStatusCode.NoContent);

        var retry = await _api.PostAsync($"/batch/{batchId}/retry", null);

        ApiAssert.Json(retry, HttpStatusCode.Accepted);
        var final = await _api.WaitUntilEndedAsync(batchId);
        Assert.Equal(("completed", 2, 1), (final.Str("status"), final.Int("succeeded"), final.Int("failed")));
        var rows = Csv.Parse((await DownloadAsync($"/batch/{batchId}/results?format=csv")).Text);
        Assert.Equal(["201", "201", "400"], rows.Skip(1).Select(r => r[3]));
        Assert.Equal((await UserIdAsync(taken)).ToString(CultureInfo.InvariantCulture), rows[2][5]);
        Assert.Equal(2, await fixture.Database.CountUsersAsync([fresh, taken]));
        ApiAssert.Problem(await _api.PostAsync($"/batch/{batchId}/retry", null), HttpStatusCode.Conflict, "batch-conflict");
    }

    [Fact]
    public async Task Import_StoresEachRowOnce_AndItsResultsStillCarryTheRowsFields()
    {
        var (a, b) = (Unique.Email("once"), Unique.Email("once"));
        var csv = $"email,name\n{a},\"Quote \"\"Q\"\" \\ é\"\n{b},B,extra\n  {b.ToUpperInvariant()} ,  Spaced  \n";
        var batchId = AssertAccepted(await ImportAsync(csv));
        await _api.WaitUntilEndedAsync(batchId);

        var expected = new[] { new[] { a, "Quote \"Q\" \\ é" }, [b, "B", "extra"], [$"  {b.ToUpperInvariant()} ", "  Spaced  "] };
        var ndjson = await DownloadAsync($"/batch/{batchId}/results", "application/x-ndjson");
        var lines = ndjson.Text.TrimEnd('\n').Split('\n').Select(l => JsonDocument.Parse(l).RootElement);
        Assert.Equal(expected, lines.Select(l => l.GetProperty("source").EnumerateArray().Select(s => s.GetString()!).ToArray()));
        await using var connection = await fixture.Database.OpenConnectionAsync();
        await using (var command = new Npgsql.NpgsqlCommand(
            "SELECT sources, source_fields FROM batch_item_pages WHERE batch_id = $1", connection) { Parameters = { new() { Value = batchId } } })
        await using (var reader = await command.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal(new string?[] { null, JsonSerializer.Serialize(expected[1]), null }, reader.GetFieldValue<string?[]>(0).AsEnumerable());
            Assert.Equal(["email", "name"], reader.GetFieldValue<string[]>(1));
        }

        await using var view = new Npgsql.NpgsqlCommand("SELECT source::text FROM batch_items WHERE batch_id = $1 ORDER BY seq", connection) { Parameters = { new() { Value = batchId } } };
        var viewed = new List<string[]>();
        await using (var reader = await view.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                viewed.Add(JsonSerializer.Deserialize<string[]>(reader.GetString(0))!);
            }
        }

        Assert.Equal(expected, viewed);
    }

    private static string AssertAccepted(ApiResponse response)
    {
        var json = ApiAssert.Json(response, HttpStatusCode.Accepted);
        var batchId = json.Str("batchId")!;
        Assert.Equal($"/batch/{batchId}/status", response.Location);
        Assert.Equal(["batchId", "status", "statusUrl", "resultsUrl"], ApiAssert.PropertyNames(json));
        Assert.Equal($"/batch/{batchId}/status", json.Str("statusUrl"));
        Assert.Equal($"/batch/{batchId}/results", json.Str("resultsUrl"));
        return batchId;
    }

    private async Task<ApiResponse> ImportAsync(string csv, string query = "")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/batch/users/import" + query);
        request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/csv") { CharSet = "utf-8" };
        return await _api.SendAsync(request);
    }

    private async Task<ApiResponse> DownloadAsync(string path, string? accept = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (accept is not null)
        {
            request.Headers.Accept.ParseAdd(accept);
        }

        var response = await _api.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.Status);
        return response;
    }

    private async Task<long> UserIdAsync(string email)
    {
        var found = ApiAssert.Json(await _api.GetAsync($"/users?email={Uri.EscapeDataString(email)}"), HttpStatusCode.OK);
        return Assert.Single(found.GetProperty("items").EnumerateArray()).GetProperty("id").GetInt64();
    }

    /// <summary>No user and no stored batch item mentions <paramref name="token"/>: the upload left nothing behind.</summary>
    private async Task AssertNothingImportedAsync(string token, IEnumerable<string> emails)
    {
        Assert.Equal(0, await fixture.Database.CountUsersAsync(emails));
        await using var command = fixture.Database.CreateCommand("SELECT count(*) FROM batch_items WHERE body LIKE '%' || $1 || '%'");
        command.Parameters.AddWithValue(token);
        Assert.Equal(0L, (long)(await command.ExecuteScalarAsync())!);
    }
}
