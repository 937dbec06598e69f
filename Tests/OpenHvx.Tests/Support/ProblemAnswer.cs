using System.Net;
using System.Text.Json;

namespace OpenHvx.Tests.Support;

/// <summary>An API's refusal as the tests check it: its status and its problem's <c>code</c>.</summary>
public static class ProblemAnswer
{
    /// <summary>Asserts <paramref name="status"/> and <paramref name="code"/>; returns the problem document.</summary>
    public static async Task<JsonElement> ReadAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(status), text);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.That(problem.GetProperty("code").GetString(), Is.EqualTo(code), text);
        return problem;
    }
}
