using System.Net;
using Microsoft.Extensions.Options;
using OpenHvx.Gateway;
using OpenHvx.Gateway.Identity;

namespace OpenHvx.Tests.Security;

/// <summary>The sign-in limiter's keys: bounded whatever a client sends, and an IPv6 host's /64 counted as one address.</summary>
[TestFixture]
[Category("Unit")]
public sealed class SignInGuardTests
{
    private static SignInGuard Guard(int perAddress = 1000, int perAccount = 1000)
        => new(Options.Create(new GatewayOptions
        {
            SignIn = new SignInLimitOptions { FailuresPerAccountAndAddress = 1000, FailuresPerAddress = perAddress, FailuresPerAccount = perAccount },
        }), TimeProvider.System);

    [Test]
    public void Megabyte_usernames_share_one_key_instead_of_each_being_kept()
    {
        using var guard = Guard(perAccount: 5);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < 50; i++)
            guard.Failed(new string((char)('a' + i % 26), 1_000_000) + i, IPAddress.Parse($"10.0.{i}.1"));
        var after = GC.GetTotalMemory(forceFullCollection: true);

        Assert.That(after - before, Is.LessThan(20_000_000), "fifty 1 MB names are not kept (100 MB if they were)");
        Assert.That(guard.Check(new string('z', 1_000_000), IPAddress.Parse("10.9.9.9")).Allowed, Is.False,
            "names that cannot be usernames count as one account");
        Assert.That(guard.Check("real-user", IPAddress.Parse("10.9.9.9")).Allowed, Is.True);
    }

    [Test]
    public void The_addresses_of_one_ipv6_64_count_as_one_address()
    {
        using var guard = Guard(perAddress: 3);
        for (var i = 1; i <= 3; i++)
            guard.Failed("user" + i, IPAddress.Parse($"2001:db8:1:2::{i:x}"));

        Assert.That(guard.Check("user9", IPAddress.Parse("2001:db8:1:2::ffff")).Allowed, Is.False, "another address of the same /64");
        Assert.That(guard.Check("user9", IPAddress.Parse("2001:db8:1:3::1")).Allowed, Is.True, "another /64");
    }
}
