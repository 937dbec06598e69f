using System.Diagnostics;

namespace OpenHvx.Tests.Support;

/// <summary>
/// A small tmpfs mounted on a folder of the test's (needs root): a file system that really fills up (<see cref="Fill"/>) or
/// really turns read-only (<see cref="RemountReadOnly"/>). Where it cannot be mounted the test is skipped with the reason,
/// and fails under CI=true.
/// </summary>
public sealed class TmpfsMount : IDisposable
{
    private readonly TempFolder _folder;

    private TmpfsMount(TempFolder folder) => _folder = folder;

    public string Path => _folder.Path;
    public string File(string name) => _folder.File(name);
    public string FillerPath => File("filler");

    public static TmpfsMount MountOrIgnore(string sizeMb)
    {
        var folder = new TempFolder("tmpfs");
        string? problem = null;
        if (!Environment.IsPrivilegedProcess)
            problem = "mounting a tmpfs needs root";
        else if (Run("mount", "-t", "tmpfs", "-o", $"size={sizeMb}m,mode=0700", "tmpfs", folder.Path) is { } error)
            problem = "mount -t tmpfs failed: " + error;
        if (problem is null)
            return new TmpfsMount(folder);
        folder.Dispose();
        var message = $"This test needs a small file system of its own: {problem}.";
        if (Environment.GetEnvironmentVariable("CI") is "true" or "1")
            Assert.Fail(message);
        Assert.Ignore(message);
        return null!;
    }

    /// <summary>Writes a filler file until the file system has no byte left; returns its size.</summary>
    public long Fill()
    {
        var chunk = new byte[64 * 1024];
        using var filler = new FileStream(FillerPath, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough);
        try
        {
            while (true)
                filler.Write(chunk);
        }
        catch (IOException)
        {
            // ENOSPC: full. Smaller writes take the last pages.
        }
        try
        {
            while (true)
                filler.Write(chunk, 0, 512);
        }
        catch (IOException)
        {
        }
        return filler.Length;
    }

    public void RemoveFiller() => System.IO.File.Delete(FillerPath);

    public void RemountReadOnly()
    {
        if (Run("mount", "-o", "remount,ro", Path) is { } error)
            throw new InvalidOperationException("remount,ro failed: " + error);
    }

    public void Dispose()
    {
        Run("umount", "-l", Path);
        _folder.Dispose();
    }

    /// <summary>Null when the command succeeded, else its error output.</summary>
    private static string? Run(string command, params string[] args)
    {
        try
        {
            var info = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var arg in args)
                info.ArgumentList.Add(arg);
            using var process = Process.Start(info)!;
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? null : $"exit {process.ExitCode}: {error.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return ex.Message;
        }
    }
}
