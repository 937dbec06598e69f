using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace OpenHvx.Testing;

/// <summary>Tokens from the gateway's real token endpoint.</summary>
public static class Tokens
{
    public const string AdminPassword = "test-admin-password-1";

    public static async Task<JsonElement> RequestAsync(string gatewayUrl, IDictionary<string, string> form, string? host = null)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, gatewayUrl.TrimEnd('/') + "/connect/token") { Content = new FormUrlEncodedContent(form) };
        if (host is not null)
            request.Headers.Host = host;
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"/connect/token answered {(int)response.StatusCode}: {body}");
        return body;
    }

    public static async Task<string> PasswordAsync(string gatewayUrl, string username, string password, string audience)
        => (await RequestAsync(gatewayUrl, new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = username, ["password"] = password, ["audience"] = audience,
        })).GetProperty("access_token").GetString()!;

    public static HttpClient Client(string baseUrl, string token)
    {
        var client = new HttpClient { BaseAddress = new Uri(baseUrl) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public static async Task<HttpClient> AdminClientAsync(string gatewayUrl)
        => Client(gatewayUrl, await PasswordAsync(gatewayUrl, "admin", AdminPassword, "admin"));

    /// <summary>Creates a tenant user (as admin) and returns a client with its tenant token.</summary>
    public static async Task<HttpClient> TenantClientAsync(HttpClient admin, string gatewayUrl, string username, string tenantId, string role)
    {
        var password = username + "-password-1";
        var created = await admin.PostAsJsonAsync("/api/v1/admin/users", new { username, password, tenantId, roles = new[] { role } });
        if (!created.IsSuccessStatusCode)
            throw new InvalidOperationException($"creating user {username} answered {(int)created.StatusCode}: {await created.Content.ReadAsStringAsync()}");
        return Client(gatewayUrl, await PasswordAsync(gatewayUrl, username, password, "tenant"));
    }
}
