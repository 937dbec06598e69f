using System.Text.Json;
using OpenHvx.Contracts;

namespace OpenHvx.Cli.Auth;

/// <summary>
/// <c>credentials.json</c> in the user's config folder: the folder is created 0700 and the file 0600 (an existing one narrowed to
/// it) before any token is written to it. A save replaces the file whole (written beside it, then renamed), so that a crash never
/// leaves half a file and loses the only valid refresh token.
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
        var next = Path + ".next";
        File.Delete(next);
        PrivateFiles.EnsureOwnerOnlyFile(next);
        using (var file = new FileStream(next, FileMode.Truncate, FileAccess.Write))
            JsonSerializer.Serialize(file, credentials, Json);
        File.Move(next, Path, overwrite: true);
    }

    /// <summary>
    /// Holds the login exclusively (a lock file beside it) while <paramref name="work"/> runs: two commands renewing an expired login at
    /// once would present the same refresh token twice, and the token service ends a grant whose refresh token is replayed.
    /// </summary>
    public async Task<T> ExclusiveAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken)
    {
        PrivateFiles.EnsureFolder(System.IO.Path.GetDirectoryName(Path)!);
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (true)
        {
            FileStream? held = null;
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None, Options = FileOptions.DeleteOnClose };
                if (!OperatingSystem.IsWindows())
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                held = new FileStream(Path + ".lock", options);
            }
            catch (IOException) when (DateTimeOffset.UtcNow < deadline)
            {
                await Task.Delay(100, cancellationToken);
                continue;
            }
            using (held)
                return await work();
        }
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
