using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace OpenHvx.Tests.Support;

/// <summary>The connect() calls strace recorded for a service (<see cref="ServiceProcess.Start"/> with a connect trace).</summary>
public static partial class ConnectTrace
{
    /// <summary>One AF_INET or AF_INET6 connect(): where to, and the strace line it came from.</summary>
    public sealed record Connect(IPAddress Address, int Port, string Line)
    {
        public bool IsLoopback => IPAddress.IsLoopback(Address.IsIPv4MappedToIPv6 ? Address.MapToIPv4() : Address);
    }

    // For example: 123 connect(42, {sa_family=AF_INET, sin_port=htons(5672), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS
    // or sin6_port=htons(80), ..., inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr). "<unfinished ...>" lines still hold the address.
    [GeneratedRegex("""connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((?<port>\d+)\).*?(inet_addr\("(?<address>[^"]+)"\)|inet_pton\(AF_INET6, "(?<address>[^"]+)")""")]
    private static partial Regex InternetConnect();

    /// <summary>AF_UNIX and other families are left out: they do not leave the machine.</summary>
    public static IReadOnlyList<Connect> Read(string file)
        => File.ReadLines(file)
            .Select(line => (Line: line, Match: InternetConnect().Match(line)))
            .Where(x => x.Match.Success)
            .Select(x => new Connect(IPAddress.Parse(x.Match.Groups["address"].Value), int.Parse(x.Match.Groups["port"].Value), x.Line))
            .ToList();

    /// <summary>strace must run and be allowed to trace; without it the test fails under CI and is skipped (with the reason) elsewhere.</summary>
    public static void RequireStrace()
    {
        string? problem = null;
        if (!File.Exists(ServiceProcess.Strace))
            problem = $"{ServiceProcess.Strace} is missing (apt-get install -y strace; .ci/run installs it)";
        else
        {
            var info = new ProcessStartInfo(ServiceProcess.Strace) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "-f", "-qq", "-e", "trace=connect", "-o", "/dev/null", "true" })
                info.ArgumentList.Add(argument);
            using var probe = Process.Start(info)!;
            var error = probe.StandardError.ReadToEnd();
            probe.WaitForExit();
            if (probe.ExitCode != 0)
                problem = $"strace cannot trace here (exit {probe.ExitCode}: {error.Trim()})";
        }
        if (problem is null)
            return;
        if (Environment.GetEnvironmentVariable("CI") is "true" or "1")
            Assert.Fail(problem);
        Assert.Ignore(problem);
    }
}
