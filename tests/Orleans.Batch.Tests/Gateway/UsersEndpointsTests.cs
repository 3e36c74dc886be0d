using System.Globalization;
using System.Net;
using System.Text.Json;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>The single-resource API of <c>/users</c>, over HTTP against the real gateway.</summary>
[Collection(ClusterCollection.Name)]
public sealed class UsersEndpointsTests(ClusterFixture fixture)
{
    // ---------------------------------------------------------------- POST /users

    [Fact]
    public async Task Create_Valid_Returns201WithLocationAndBody()
    {
        var api = new BatchApi(fixture.Http);
        var email = Unique.Email();
        var before = DateTime.UtcNow.AddMinutes(-5);

        var response = await api.PostAsync("/users", new { email, name = "Ada Lovelace" });

        var user = ApiAssert.Json(response, HttpStatusCode.Created);
        var id = user.GetProperty("id").GetInt64();
        Assert.True(id > 0);
        Assert.Equal($"/users/{id}", response.Location);
        Assert.Equal(email, user.GetProperty("email").GetString());
        Assert.Equal("Ada Lovelace", user.GetProperty("name").GetString());
        var createdAt = DateTime.Parse(user.GetProperty("createdAt").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal);
        Assert.InRange(createdAt, before, DateTime.UtcNow.AddMinutes(5));
    }

    [Fact]
    public async Task Create_ResponseUsesCamelCasePropertyNames()
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.PostAsync("/users", new { email = Unique.Email(), name = "Camel" });

        var user = ApiAssert.Json(response, HttpStatusCode.Created);
        Assert.Equal(["createdAt", "email", "id", "name"], ApiAssert.PropertyNames(user).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Create_ThenGetLocation_ReturnsSameUser()
    {
        var api = new BatchApi(fixture.Http);
        var created = await api.PostAsync("/users", new { email = Unique.Email(), name = "Round Trip" });
        Assert.Equal(HttpStatusCode.Created, created.Status);

        var fetched = await api.GetAsync(created.Location!);

        var user = ApiAssert.Json(fetched, HttpStatusCode.OK);
        Assert.Equal(created.Json.GetRawText(), user.GetRawText());
    }

    [Theory]
    [InlineData("not-an-email")]
    [InlineData("missing-domain@")]
    [InlineData("@example.com")]
    [InlineData("no-tld@example")]
    [InlineData("two@at@example.com")]
    [InlineData("space in@example.com")]
    public async Task Create_InvalidEmail_Returns400NamingField(string email)
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.PostAsync("/users", new { email, name = "Bad Email" });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "email");
    }

    [Fact]
    public async Task Create_MissingEmail_Returns400NamingField()
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.PostAsync("/users", new { name = "No Email" });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "email");
    }

    [Fact]
    public async Task Create_DuplicateEmail_Returns409NamingField()
    {
        var api = new BatchApi(fixture.Http);
        var email = Unique.Email();
        await api.CreateUserAsync(email);

        var response = await api.PostAsync("/users", new { email, name = "Second" });

        ApiAssert.Problem(response, HttpStatusCode.Conflict, "conflict", "email");
    }

    [Fact]
    public async Task Create_DuplicateEmailInOtherCase_Returns409NamingField()
    {
        var api = new BatchApi(fixture.Http);
        var email = Unique.Email();
        await api.CreateUserAsync(email);

        var response = await api.PostAsync("/users", new { email = email.ToUpperInvariant(), name = "Shouting" });

        ApiAssert.Problem(response, HttpStatusCode.Conflict, "conflict", "email");
    }

    [Fact]
    public async Task Create_MissingName_Returns400NamingField()
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.PostAsync("/users", new { email = Unique.Email() });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "name");
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task Create_BlankName_Returns400NamingField(string name)
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.PostAsync("/users", new { email = Unique.Email(), name });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "name");
    }

    [Fact]
    public async Task Create_NameOf200Characters_Returns201()
    {
        var api = new BatchApi(fixture.Http);
        var name = new string('n', 200);

        var response = await api.PostAsync("/users", new { email = Unique.Email(), name });

        var user = ApiAssert.Json(response, HttpStatusCode.Created);
        Assert.Equal(name, user.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Create_NameOf201Characters_Returns400NamingField()
    {
        var api = new BatchApi(fixture.Http);
        var email = Unique.Email();

        var response = await api.PostAsync("/users", new { email, name = new string('n', 201) });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "name");
        var found = ApiAssert.Json(await api.GetAsync($"/users?email={Uri.EscapeDataString(email)}"), HttpStatusCode.OK);
        Assert.Empty(found.GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task Create_NameNotAString_Returns400NamingField()
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.PostAsync("/users", new { email = Unique.Email(), name = 5 });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "name");
    }

    [Theory]
    [InlineData("name", "Nul\\u0000Name")]
    [InlineData("name", "\\ud800")]
    [InlineData("email", "nul\\u0000byte@example.com")]
    public async Task Create_TextPostgresCannotStore_Returns400NamingField(string field, string escapedJson)
    {
        var api = new BatchApi(fixture.Http);
        var email = field == "email" ? escapedJson : Unique.Email();
        var name = field == "name" ? escapedJson : "Valid Name";

        var response = await api.PostAsync("/users", $"{{\"email\": \"{email}\", \"name\": \"{name}\"}}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", field);
    }

    [Fact]
    public async Task Create_SeveralInvalidFields_NamesEachOne()
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.PostAsync("/users", new { email = "nope", name = "" });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "email", "name");
    }

    [Theory]
    [InlineData("{")]
    [InlineData("{\"email\": ")]
    [InlineData("{\"email\": \"a@example.com\", }")]
    [InlineData("not json")]
    public async Task Create_MalformedJson_Returns400(string body)
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.PostAsync("/users", body);

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "malformed-body");
    }

    [Fact]
    public async Task Create_EmptyBody_Returns400()
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.PostAsync("/users", "");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "malformed-body");
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[{\"email\": \"a@example.com\", \"name\": \"A\"}]")]
    [InlineData("\"a@example.com\"")]
    [InlineData("42")]
    [InlineData("null")]
    public async Task Create_BodyNotAnObject_Returns400(string body)
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.PostAsync("/users", body);

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "malformed-body");
    }

    // ---------------------------------------------------------------- GET /users/{id}

    [Fact]
    public async Task Get_Existing_Returns200()
    {
        var api = new BatchApi(fixture.Http);
        var email = Unique.Email();
        var id = await api.CreateUserAsync(email);

        var user = ApiAssert.Json(await api.GetAsync($"/users/{id}"), HttpStatusCode.OK);

        Assert.Equal(id, user.GetProperty("id").GetInt64());
        Assert.Equal(email, user.GetProperty("email").GetString());
        Assert.Equal("Test User", user.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Get_Unknown_Returns404()
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.GetAsync("/users/999999999999");

        ApiAssert.Problem(response, HttpStatusCode.NotFound, "not-found");
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("99999999999999999999999")]
    public async Task Get_IdNotAPositiveWholeNumber_Returns404(string id)
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.GetAsync($"/users/{id}");

        ApiAssert.Problem(response, HttpStatusCode.NotFound, "not-found");
    }

    // ---------------------------------------------------------------- PUT /users/{id}

    [Fact]
    public async Task Put_ReplacesEveryField_Returns200()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateUserAsync();
        var email = Unique.Email("replaced");

        var response = await api.PutAsync($"/users/{id}", new { email, name = "Replaced" });

        var user = ApiAssert.Json(response, HttpStatusCode.OK);
        Assert.Equal(id, user.GetProperty("id").GetInt64());
        Assert.Equal(email, user.GetProperty("email").GetString());
        Assert.Equal("Replaced", user.GetProperty("name").GetString());
        Assert.Equal(user.GetRawText(), ApiAssert.Json(await api.GetAsync($"/users/{id}"), HttpStatusCode.OK).GetRawText());
    }

    [Fact]
    public async Task Put_Unknown_Returns404()
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.PutAsync("/users/999999999999", new { email = Unique.Email(), name = "Nobody" });

        ApiAssert.Problem(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Put_MissingRequiredField_Returns400NamingFieldAndKeepsUser()
    {
        var api = new BatchApi(fixture.Http);
        var email = Unique.Email();
        var id = await api.CreateUserAsync(email);

        var response = await api.PutAsync($"/users/{id}", new { name = "Only Name" });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "email");
        var user = ApiAssert.Json(await api.GetAsync($"/users/{id}"), HttpStatusCode.OK);
        Assert.Equal(email, user.GetProperty("email").GetString());
        Assert.Equal("Test User", user.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Put_EmailOfAnotherUserInOtherCase_Returns409NamingField()
    {
        var api = new BatchApi(fixture.Http);
        var taken = Unique.Email();
        await api.CreateUserAsync(taken);
        var id = await api.CreateUserAsync();

        var response = await api.PutAsync($"/users/{id}", new { email = taken.ToUpperInvariant(), name = "Thief" });

        ApiAssert.Problem(response, HttpStatusCode.Conflict, "conflict", "email");
    }

    [Fact]
    public async Task Put_OwnEmailInOtherCase_Returns200()
    {
        var api = new BatchApi(fixture.Http);
        var email = Unique.Email();
        var id = await api.CreateUserAsync(email);

        var response = await api.PutAsync($"/users/{id}", new { email = email.ToUpperInvariant(), name = "Same Person" });

        var user = ApiAssert.Json(response, HttpStatusCode.OK);
        Assert.Equal(email.ToUpperInvariant(), user.GetProperty("email").GetString());
    }

    [Fact]
    public async Task Put_MalformedJson_Returns400()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateUserAsync();

        var response = await api.PutAsync($"/users/{id}", "{\"name\": ");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "malformed-body");
    }

    // ---------------------------------------------------------------- PATCH /users/{id}

    [Fact]
    public async Task Patch_Name_ChangesOnlyName()
    {
        var api = new BatchApi(fixture.Http);
        var email = Unique.Email();
        var id = await api.CreateUserAsync(email);
        var before = ApiAssert.Json(await api.GetAsync($"/users/{id}"), HttpStatusCode.OK);

        var response = await api.PatchAsync($"/users/{id}", new { name = "Patched" });

        var user = ApiAssert.Json(response, HttpStatusCode.OK);
        Assert.Equal("Patched", user.GetProperty("name").GetString());
        Assert.Equal(email, user.GetProperty("email").GetString());
        Assert.Equal(before.GetProperty("createdAt").GetString(), user.GetProperty("createdAt").GetString());
        Assert.Equal(user.GetRawText(), ApiAssert.Json(await api.GetAsync($"/users/{id}"), HttpStatusCode.OK).GetRawText());
    }

    [Fact]
    public async Task Patch_Email_ChangesOnlyEmail()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateUserAsync();
        var email = Unique.Email("patched");

        var response = await api.PatchAsync($"/users/{id}", new { email });

        var user = ApiAssert.Json(response, HttpStatusCode.OK);
        Assert.Equal(email, user.GetProperty("email").GetString());
        Assert.Equal("Test User", user.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Patch_EmptyObject_ChangesNothing()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateUserAsync();
        var before = ApiAssert.Json(await api.GetAsync($"/users/{id}"), HttpStatusCode.OK);

        var response = await api.PatchAsync($"/users/{id}", new { });

        Assert.Equal(before.GetRawText(), ApiAssert.Json(response, HttpStatusCode.OK).GetRawText());
    }

    [Fact]
    public async Task Patch_Unknown_Returns404()
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.PatchAsync("/users/999999999999", new { name = "Nobody" });

        ApiAssert.Problem(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Patch_NullName_Returns400NamingFieldAndKeepsName()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateUserAsync();

        var response = await api.PatchAsync($"/users/{id}", "{\"name\": null}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "name");
        var user = ApiAssert.Json(await api.GetAsync($"/users/{id}"), HttpStatusCode.OK);
        Assert.Equal("Test User", user.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Patch_InvalidEmail_Returns400NamingField()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateUserAsync();

        var response = await api.PatchAsync($"/users/{id}", new { email = "not-an-email" });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "email");
    }

    [Fact]
    public async Task Patch_NameNotAString_Returns400NamingField()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateUserAsync();

        var response = await api.PatchAsync($"/users/{id}", new { name = 5 });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "name");
    }

    [Fact]
    public async Task Patch_EmailOfAnotherUser_Returns409NamingField()
    {
        var api = new BatchApi(fixture.Http);
        var taken = Unique.Email();
        await api.CreateUserAsync(taken);
        var id = await api.CreateUserAsync();

        var response = await api.PatchAsync($"/users/{id}", new { email = taken.ToUpperInvariant() });

        ApiAssert.Problem(response, HttpStatusCode.Conflict, "conflict", "email");
    }

    [Fact]
    public async Task Patch_BodyIsJsonArray_Returns400()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateUserAsync();

        var response = await api.PatchAsync($"/users/{id}", "[{\"name\": \"Array\"}]");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "malformed-body");
    }

    // ---------------------------------------------------------------- DELETE /users/{id}

    [Fact]
    public async Task Delete_Existing_Returns204ThenGetAndDeleteReturn404()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateUserAsync();

        ApiAssert.Empty(await api.DeleteAsync($"/users/{id}"), HttpStatusCode.NoContent);

        ApiAssert.Problem(await api.GetAsync($"/users/{id}"), HttpStatusCode.NotFound, "not-found");
        ApiAssert.Problem(await api.DeleteAsync($"/users/{id}"), HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Delete_FreesTheEmail()
    {
        var api = new BatchApi(fixture.Http);
        var email = Unique.Email();
        var id = await api.CreateUserAsync(email);
        Assert.Equal(HttpStatusCode.NoContent, (await api.DeleteAsync($"/users/{id}")).Status);

        var response = await api.PostAsync("/users", new { email, name = "Again" });

        var user = ApiAssert.Json(response, HttpStatusCode.Created);
        Assert.NotEqual(id, user.GetProperty("id").GetInt64());
    }

    // ---------------------------------------------------------------- GET /users

    [Fact]
    public async Task List_ByEmail_FindsUserCaseInsensitively()
    {
        var api = new BatchApi(fixture.Http);
        var email = Unique.Email();
        var id = await api.CreateUserAsync(email);

        var response = await api.GetAsync($"/users?email={Uri.EscapeDataString(email.ToUpperInvariant())}");

        var page = ApiAssert.Json(response, HttpStatusCode.OK);
        var user = Assert.Single(page.GetProperty("items").EnumerateArray());
        Assert.Equal(id, user.GetProperty("id").GetInt64());
        Assert.Equal(email, user.GetProperty("email").GetString());
        Assert.Equal(JsonValueKind.Null, page.GetProperty("nextAfter").ValueKind);
    }

    [Fact]
    public async Task List_ByEmailWithPlusSign_FindsUser()
    {
        var api = new BatchApi(fixture.Http);
        var email = Unique.Email("plus+tag");
        var id = await api.CreateUserAsync(email);

        var page = ApiAssert.Json(await api.GetAsync($"/users?email={Uri.EscapeDataString(email)}"), HttpStatusCode.OK);

        Assert.Equal(id, Assert.Single(page.GetProperty("items").EnumerateArray()).GetProperty("id").GetInt64());
    }

    [Fact]
    public async Task List_ByEmailWithNulCharacter_Returns400NamingEmail()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.GetAsync("/users?email=a%00b%40example.com");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "email");
    }

    [Fact]
    public async Task List_ByUnknownEmail_ReturnsNoItems()
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.GetAsync($"/users?email={Uri.EscapeDataString(Unique.Email("nobody"))}");

        var page = ApiAssert.Json(response, HttpStatusCode.OK);
        Assert.Empty(page.GetProperty("items").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, page.GetProperty("nextAfter").ValueKind);
    }

    [Fact]
    public async Task List_PagesWithLimitAndAfter()
    {
        var api = new BatchApi(fixture.Http);
        long[] ids = [await api.CreateUserAsync(), await api.CreateUserAsync(), await api.CreateUserAsync()];

        var first = ApiAssert.Json(await api.GetAsync($"/users?after={ids[0] - 1}&limit=2"), HttpStatusCode.OK);

        var firstIds = Ids(first);
        Assert.Equal(2, firstIds.Length);
        Assert.Equal(ids[0], firstIds[0]);
        Assert.Equal(firstIds[1], first.GetProperty("nextAfter").GetInt64());

        // Walk on until the third user shows up: ids only ever grow, and no page repeats one.
        var seen = firstIds.ToList();
        var after = first.GetProperty("nextAfter").GetInt64();
        while (!seen.Contains(ids[2]))
        {
            var page = ApiAssert.Json(await api.GetAsync($"/users?after={after}&limit=2"), HttpStatusCode.OK);
            var pageIds = Ids(page);
            Assert.InRange(pageIds.Length, 1, 2);
            Assert.All(pageIds, id => Assert.True(id > after));
            seen.AddRange(pageIds);
            after = pageIds[^1];
        }

        Assert.Equal(seen.Order(), seen);
        Assert.Equal(seen.Distinct().Count(), seen.Count);
        Assert.Superset(ids.ToHashSet(), seen.ToHashSet());
    }

    [Fact]
    public async Task List_LastPage_HasNullNextAfter()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateUserAsync();
        var email = ApiAssert.Json(await api.GetAsync($"/users/{id}"), HttpStatusCode.OK).GetProperty("email").GetString()!;

        var page = ApiAssert.Json(await api.GetAsync($"/users?email={Uri.EscapeDataString(email)}&limit=2"), HttpStatusCode.OK);

        Assert.Equal([id], Ids(page));
        Assert.True(page.TryGetProperty("nextAfter", out var nextAfter), $"Expected 'nextAfter' in {page}");
        Assert.Equal(JsonValueKind.Null, nextAfter.ValueKind);
    }

    [Fact]
    public async Task List_MaximumLimit_Returns200()
    {
        var api = new BatchApi(fixture.Http);
        var page = ApiAssert.Json(await api.GetAsync("/users?limit=1000"), HttpStatusCode.OK);

        Assert.InRange(page.GetProperty("items").GetArrayLength(), 0, 1000);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1001")]
    [InlineData("-1")]
    [InlineData("x")]
    [InlineData("")]
    [InlineData("1.5")]
    public async Task List_BadLimit_Returns400NamingLimit(string limit)
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.GetAsync($"/users?limit={Uri.EscapeDataString(limit)}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "limit");
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("x")]
    public async Task List_BadAfter_Returns400NamingAfter(string after)
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.GetAsync($"/users?after={Uri.EscapeDataString(after)}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "after");
    }

    // ---------------------------------------------------------------- unsupported methods

    [Theory]
    [InlineData("DELETE")]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    public async Task Collection_UnsupportedMethod_Returns405WithAllowed(string method)
    {
        var api = new BatchApi(fixture.Http);
        var response = await api.SendAsync(new HttpMethod(method), "/users", method == "DELETE" ? null : new { name = "x" });

        var problem = ApiAssert.Problem(response, HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal(["GET", "POST"], problem.GetProperty("allowed").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal("GET, POST", response.Allow);
    }

    [Fact]
    public async Task Item_Post_Returns405WithAllowed()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateUserAsync();

        var response = await api.PostAsync($"/users/{id}", new { email = Unique.Email(), name = "x" });

        var problem = ApiAssert.Problem(response, HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal(["GET", "PUT", "PATCH", "DELETE"], problem.GetProperty("allowed").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal("GET, PUT, PATCH, DELETE", response.Allow);
    }

    private static long[] Ids(JsonElement page) =>
        page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetInt64()).ToArray();
}
