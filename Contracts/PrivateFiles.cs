namespace OpenHvx.Contracts;

/// <summary>
/// Files only the service's own user may read or write (0600; folders it creates 0700): databases hold key material,
/// tokens and tenants' data. SQLite gives its -wal and -shm files the mode of the database file.
/// </summary>
public static class PrivateFiles
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyFolder = OwnerOnly | UnixFileMode.UserExecute;

    /// <summary>Makes sure <paramref name="path"/> exists as an owner-only file (an existing one, and its SQLite companions, are narrowed to it).</summary>
    public static void EnsureOwnerOnlyFile(string path)
    {
        var full = Path.GetFullPath(path);
        EnsureFolder(Path.GetDirectoryName(full)!);
        if (OperatingSystem.IsWindows())
            return;
        if (!File.Exists(full))
        {
            try
            {
                using var created = new FileStream(full, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnly });
            }
            catch (IOException) when (File.Exists(full))
            {
                // Another process (a second orchestrator starting on the same file) created it first.
            }
        }
        foreach (var file in new[] { full, full + "-wal", full + "-shm", full + "-journal" })
        {
            try
            {
                if (File.Exists(file) && File.GetUnixFileMode(file) != OwnerOnly)
                    File.SetUnixFileMode(file, OwnerOnly);
            }
            catch (FileNotFoundException) when (file != full)
            {
                // SQLite of another process (an orchestrator on the same file) removed its journal meanwhile.
            }
        }
    }

    /// <summary>Creates the folder owner-only when it does not exist (an existing folder is left as the operator made it).</summary>
    public static void EnsureFolder(string folder)
    {
        if (Directory.Exists(folder))
            return;
        if (OperatingSystem.IsWindows())
            Directory.CreateDirectory(folder);
        else
            Directory.CreateDirectory(folder, OwnerOnlyFolder);
    }
}
