using System.Net;
using System.Text.Json;

namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>Assertions on the gateway's answers: a resource as <c>application/json</c>, a failure as RFC 9457 problem details.</summary>
public static class ApiAssert
{
    public const string ProblemTypePrefix = "urn:orleans-batch:problem:";

    /// <summary>Asserts a successful JSON answer with <paramref name="status"/> and returns its body.</summary>
    public static JsonElement Json(ApiResponse response, HttpStatusCode status)
    {
        AssertStatus(response, status);
        Assert.Equal("application/json", response.ContentType);
        return response.Json;
    }

    /// <summary>
    /// Asserts problem details with <paramref name="status"/> (in the status line and the body) and type
    /// <c>urn:orleans-batch:problem:{type}</c>, whose <c>errors</c> name exactly <paramref name="fields"/>
    /// (no <c>errors</c> at all when none are given). Returns the problem.
    /// </summary>
    public static JsonElement Problem(ApiResponse response, HttpStatusCode status, string type, params string[] fields)
    {
        AssertStatus(response, status);
        Assert.Equal("application/problem+json", response.ContentType);
        var problem = response.Json;
        Assert.Equal(JsonValueKind.Object, problem.ValueKind);
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Equal(ProblemTypePrefix + type, problem.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
        if (fields.Length == 0)
        {
            Assert.False(problem.TryGetProperty("errors", out _), $"Expected no 'errors', got: {response.Text}");
        }
        else
        {
            var named = problem.GetProperty("errors").EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal);
            Assert.Equal(fields.Order(StringComparer.Ordinal), named);
            foreach (var field in fields)
            {
                Assert.All(response.ErrorsFor(field), message => Assert.False(string.IsNullOrWhiteSpace(message)));
                Assert.NotEmpty(response.ErrorsFor(field));
            }
        }

        return problem;
    }

    /// <summary>Asserts an answer with <paramref name="status"/> and no body at all (e.g. 204).</summary>
    public static void Empty(ApiResponse response, HttpStatusCode status)
    {
        AssertStatus(response, status);
        Assert.Equal("", response.Text);
    }

    /// <summary>The names of a JSON object's properties, in document order.</summary>
    public static string[] PropertyNames(JsonElement json) => json.EnumerateObject().Select(p => p.Name).ToArray();

    private static void AssertStatus(ApiResponse response, HttpStatusCode status) =>
        Assert.True(response.Status == status,
            $"Expected {(int)status} {status}, got {(int)response.Status} {response.Status}: {response.Text}");
}
