using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Security;

/// <summary>
/// Key material at rest: the stores are owner-only files, the signing keys in the identity store are encrypted with a
/// Data Protection key ring kept apart from it (a copy of the store alone yields no key and starts no gateway), an
/// earlier version's plain-text keys are encrypted at the next start, and a rotation signs with a new key while tokens
/// of the old one keep working, across a restart.
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class KeyProtectionTests
{
    private static string Scalar(string database, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar()) ?? "";
    }

    private static void Execute(string database, string sql, params (string Name, object Value)[] parameters)
    {
        using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
            command.Parameters.AddWithValue(name, value);
        command.ExecuteNonQuery();
    }

    private static async Task<IReadOnlyList<string>> KeyIdsAsync(string gatewayUrl)
        => (await new HttpClient().GetFromJsonAsync<JsonElement>(gatewayUrl + "/.well-known/jwks")).GetProperty("keys").EnumerateArray()
            .Select(k => k.GetProperty("kid").GetString()!).ToList();

    private static string KeyIdOf(string token)
        => JsonDocument.Parse(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(token.Split('.')[0])).RootElement.GetProperty("kid").GetString()!;

    private static async Task AssertAcceptedAsync(TestDevHost host, string token)
    {
        foreach (var baseUrl in new[] { host.Url, host.App.CoreUrl })
        {
            using var client = Tokens.Client(baseUrl, token);
            Assert.That((await client.GetAsync("/api/v1/admin/tenants")).StatusCode, Is.EqualTo(HttpStatusCode.OK), baseUrl);
        }
    }

    [Test]
    public async Task The_stores_are_owner_only_and_the_signing_key_in_them_is_encrypted()
    {
        using var folder = new TempFolder("keys-at-rest");
        await using var host = new TestDevHost(folder.Path);
        using var admin = await host.StartAsync();

        foreach (var file in new[] { "gateway.db", "gateway.db-wal", "openhvx.db", "openhvx.db-wal" })
            Assert.That(File.GetUnixFileMode(folder.File(file)), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), file);
        Assert.That(File.GetUnixFileMode(folder.File("keyring")), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        _ = host.Services.GetRequiredService<OpenHvx.HyperVAgent.Tasks.TaskJournal>();
        Assert.That(File.GetUnixFileMode(folder.File("agent/journal.db")), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));

        var material = Scalar(folder.File("gateway.db"), "SELECT Material FROM signing_keys");
        Assert.That(material, Does.StartWith("dp1:"));
        using var rsa = RSA.Create();
        Assert.That(() => rsa.ImportPkcs8PrivateKey(Convert.FromBase64String(material[4..]), out _), Throws.InstanceOf<CryptographicException>(),
            "the stored bytes are not the key");
        Assert.That(Scalar(folder.File("gateway.db"), "SELECT Material FROM keys WHERE Use = 'encryption'"), Does.StartWith("dp1:"));
    }

    [Test]
    public async Task A_copy_of_the_identity_store_without_its_key_ring_starts_no_gateway()
    {
        using var folder = new TempFolder("stolen-store");
        await using (var host = new TestDevHost(folder.Path))
            (await host.StartAsync()).Dispose();
        using var elsewhere = new TempFolder("stolen-copy");
        File.Copy(folder.File("gateway.db"), elsewhere.File("gateway.db"));

        await using var thief = new TestDevHost(elsewhere.Path);
        var failure = Assert.CatchAsync(async () => (await thief.StartAsync()).Dispose());
        Assert.That(failure!.ToString(), Does.Contain("cannot be decrypted").And.Contain("key ring"));
    }

    [Test]
    public async Task Plain_text_keys_of_an_earlier_version_are_replaced_at_the_next_start_and_wiped_from_the_file()
    {
        using var folder = new TempFolder("legacy-keys");
        await using (var host = new TestDevHost(folder.Path, PinnedIssuer))
            (await host.StartAsync()).Dispose();
        // The store as an earlier version left it: one plain-text signing key in `keys`, a plain-text encryption key.
        using var legacy = RSA.Create(2048);
        var legacyMaterial = Convert.ToBase64String(legacy.ExportPkcs8PrivateKey());
        var database = folder.File("gateway.db");
        Execute(database, "DELETE FROM signing_keys; DELETE FROM keys;");
        Execute(database, "INSERT INTO keys (Use, KeyId, Material, CreatedAt) VALUES ('signing', 'legacy0001', $signing, '2026-01-01 00:00:00+00:00')",
            ("$signing", legacyMaterial));
        Execute(database, "INSERT INTO keys (Use, KeyId, Material, CreatedAt) VALUES ('encryption', 'legacy0002', $aes, '2026-01-01 00:00:00+00:00')",
            ("$aes", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))));
        SqliteConnection.ClearAllPools();
        // A token minted by whoever copied the old, world-readable store.
        var issuer = PinnedIssuer["Gateway:Issuer"];
        var minted = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
        {
            Issuer = issuer, Audience = "admin", TokenType = "at+jwt", IssuedAt = DateTime.UtcNow, NotBefore = DateTime.UtcNow, Expires = DateTime.UtcNow.AddMinutes(10),
            Claims = new Dictionary<string, object> { ["sub"] = "admin", ["role"] = "global-admin", ["scope"] = "openhvx.admin" },
            SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(
                new Microsoft.IdentityModel.Tokens.RsaSecurityKey(legacy) { KeyId = "legacy0001" }, "RS256"),
        });

        await using var upgraded = new TestDevHost(folder.Path, PinnedIssuer);
        using var admin = await upgraded.StartAsync();

        Assert.That(await KeyIdsAsync(upgraded.Url), Does.Not.Contain("legacy0001"), "the exposed key is dropped");
        Assert.That(KeyIdOf(admin.DefaultRequestHeaders.Authorization!.Parameter!), Is.Not.EqualTo("legacy0001"));
        using (var forged = Tokens.Client(upgraded.Url, minted))
            Assert.That((await forged.GetAsync("/api/v1/admin/tenants")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "a token minted with it is refused");
        Assert.That(Scalar(database, "SELECT COUNT(*) FROM keys WHERE Use = 'signing' OR Material NOT LIKE 'dp1:%'"), Is.EqualTo("0"));
        Assert.That(Scalar(database, "SELECT COUNT(*) FROM signing_keys WHERE Material NOT LIKE 'dp1:%'"), Is.EqualTo("0"));
        SqliteConnection.ClearAllPools();
        var fileText = string.Concat(new[] { database, database + "-wal" }.Where(File.Exists).Select(f => System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(f))));
        Assert.That(fileText, Does.Not.Contain(legacyMaterial[..64]), "the old key's text is gone from the file");
    }

    /// <summary>An issuer set explicitly (as in production), so that a token can be minted for it before the gateway starts.</summary>
    private static readonly Dictionary<string, string?> PinnedIssuer = new() { ["Gateway:Issuer"] = "http://localhost:8080/" };

    private static readonly Dictionary<string, string?> FastRotation = new()
    {
        // A restarted test DevHost listens on another port: its tokens' issuer stays only when set.
        ["Gateway:Issuer"] = PinnedIssuer["Gateway:Issuer"],
        ["Gateway:SigningKeyLead"] = "00:00:03",
        ["Gateway:StoreRefresh"] = "00:00:01",
        ["Orchestrator:RevocationPoll"] = "00:00:01",
    };

    [Test]
    public async Task A_rotated_in_key_is_published_before_it_signs_and_old_tokens_keep_working_across_a_restart()
    {
        using var folder = new TempFolder("rotation");
        string before, after, oldKey, newKey;
        await using (var host = new TestDevHost(folder.Path, FastRotation))
        {
            using var admin = await host.StartAsync();
            before = admin.DefaultRequestHeaders.Authorization!.Parameter!;
            oldKey = KeyIdOf(before);

            var rotated = await admin.PostAsync("/api/v1/admin/signing-keys/rotate", null);
            Assert.That(rotated.StatusCode, Is.EqualTo(HttpStatusCode.OK), await rotated.Content.ReadAsStringAsync());
            newKey = (await rotated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("keyId").GetString()!;
            Assert.That(newKey, Is.Not.EqualTo(oldKey));
            Assert.That(await KeyIdsAsync(host.Url), Is.EquivalentTo(new[] { oldKey, newKey }), "the new key is published at once");
            Assert.That(KeyIdOf(await Tokens.PasswordAsync(host.Url, "admin", Tokens.AdminPassword, "admin")), Is.EqualTo(oldKey), "but does not sign yet");

            after = await Eventually.Get(() => Tokens.PasswordAsync(host.Url, "admin", Tokens.AdminPassword, "admin"), token => KeyIdOf(token) == newKey,
                TimeSpan.FromSeconds(30), "the new key signs on its turn");
            // The first request with the new key succeeds everywhere: the orchestrator read the key before it signed.
            await AssertAcceptedAsync(host, after);
            await AssertAcceptedAsync(host, before);
            var keys = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/signing-keys");
            Assert.That(keys.EnumerateArray().Single(k => k.GetProperty("signs").GetBoolean()).GetProperty("keyId").GetString(), Is.EqualTo(newKey));
        }

        await using var restarted = new TestDevHost(folder.Path, FastRotation);
        (await restarted.StartAsync()).Dispose();
        await AssertAcceptedAsync(restarted, before);
        await AssertAcceptedAsync(restarted, after);
        Assert.That(KeyIdOf(await Tokens.PasswordAsync(restarted.Url, "admin", Tokens.AdminPassword, "admin")), Is.EqualTo(newKey));
    }

    [Test]
    public async Task An_immediate_rotation_for_a_compromised_key_ends_every_token_it_signed()
    {
        using var folder = new TempFolder("compromised");
        await using var host = new TestDevHost(folder.Path, FastRotation);
        using var admin = await host.StartAsync();
        var before = admin.DefaultRequestHeaders.Authorization!.Parameter!;

        var rotated = await admin.PostAsync("/api/v1/admin/signing-keys/rotate?immediately=true", null);
        Assert.That(rotated.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var newKey = (await rotated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("keyId").GetString()!;

        Assert.That(await KeyIdsAsync(host.Url), Is.EqualTo(new[] { newKey }), "the old key is no longer published");
        var after = await Tokens.PasswordAsync(host.Url, "admin", Tokens.AdminPassword, "admin");
        Assert.That(KeyIdOf(after), Is.EqualTo(newKey));
        using (var gateway = Tokens.Client(host.Url, before))
            Assert.That((await gateway.GetAsync("/api/v1/admin/tenants")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using var direct = Tokens.Client(host.App.CoreUrl, before);
        await Eventually.True(async () => (await direct.GetAsync("/api/v1/admin/tenants")).StatusCode == HttpStatusCode.Unauthorized,
            TimeSpan.FromSeconds(30), "the orchestrator drops the old key at its next read of the keys");
        await Eventually.True(async () =>
        {
            using var client = Tokens.Client(host.App.CoreUrl, after);
            return (await client.GetAsync("/api/v1/admin/tenants")).StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(30), "the orchestrator takes the new key");
    }
}
