using System.Text.Json;
using OpenHvx.Contracts;

namespace OpenHvx.Cli.Auth;

/// <summary>
/// <c>credentials.json</c> in the user's config folder: the folder is created 0700 and the file 0600 (an existing one narrowed to
/// it) before any token is written to it.
/// </summary>
public sealed class CredentialStore(string folder)
{
    public const string FileName = "credentials.json";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public string Path { get; } = System.IO.Path.Combine(folder, FileName);

    public Credentials? Load()
    {
        if (!File.Exists(Path))
            return null;
        try
        {
            return JsonSerializer.Deserialize<Credentials>(File.ReadAllText(Path), Json);
        }
        catch (JsonException)
        {
            throw new CliException(ExitCodes.Auth, $"{Path} is not a credentials file; run `openhvx logout` and sign in again.");
        }
    }

    public void Save(Credentials credentials)
    {
        PrivateFiles.EnsureOwnerOnlyFile(Path);
        using var file = new FileStream(Path, FileMode.Truncate, FileAccess.Write);
        JsonSerializer.Serialize(file, credentials, Json);
    }

    /// <returns>whether there was a login to remove</returns>
    public bool Delete()
    {
        if (!File.Exists(Path))
            return false;
        File.Delete(Path);
        return true;
    }
}
