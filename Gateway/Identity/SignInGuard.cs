using System.Net;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace OpenHvx.Gateway.Identity;

/// <summary>
/// Password guessing is slowed without letting an attacker lock a user out (OWASP, Authentication: account lockout).
/// Only failures count, in a sliding window: too many for one account from one address refuse that address for that
/// account; too many from one address across accounts (spraying) refuse that address; too many for one account from
/// every address together (a distributed attack) refuse addresses that have not signed in to it successfully lately,
/// while an address it signed in from keeps working. A refused attempt is answered before the password is checked.
/// </summary>
public sealed class SignInGuard(IOptions<GatewayOptions> options, TimeProvider clock) : IDisposable
{
    private readonly MemoryCache _windows = new(new MemoryCacheOptions { SizeLimit = 200_000 });

    private SignInLimitOptions Limits => options.Value.SignIn;

    /// <summary>Whether this address may try this account now, and if not, how long until it may.</summary>
    public (bool Allowed, TimeSpan RetryAfter) Check(string account, IPAddress? address)
    {
        var now = clock.GetUtcNow();
        var from = AddressOf(address);
        var waits = new List<TimeSpan>();
        void Over(string key, int limit)
        {
            if (_windows.TryGetValue(key, out FailureWindow? window) && window!.WaitWhenOver(limit, Limits.Window, now) is { } wait)
                waits.Add(wait);
        }
        Over(PairKey(account, from), Limits.FailuresPerAccountAndAddress);
        Over(AddressKey(from), Limits.FailuresPerAddress);
        if (!IsKnown(account, from))
            Over(AccountKey(account), Limits.FailuresPerAccount);
        return waits.Count == 0 ? (true, TimeSpan.Zero) : (false, waits.Max());
    }

    public void Failed(string account, IPAddress? address)
    {
        var now = clock.GetUtcNow();
        var from = AddressOf(address);
        foreach (var key in new[] { PairKey(account, from), AddressKey(from), AccountKey(account) })
            WindowOf(key).Add(now, Limits.Window);
    }

    /// <summary>The address becomes one this account is known to sign in from.</summary>
    public void Succeeded(string account, IPAddress? address)
        => _windows.Set(KnownKey(account, AddressOf(address)), true, new MemoryCacheEntryOptions { SlidingExpiration = Limits.KnownAddressFor, Size = 1 });

    private bool IsKnown(string account, string address) => _windows.TryGetValue(KnownKey(account, address), out _);

    private FailureWindow WindowOf(string key)
        => _windows.GetOrCreate(key, entry =>
        {
            entry.SlidingExpiration = Limits.Window;
            entry.Size = 1;
            return new FailureWindow();
        })!;

    /// <summary>An IPv4 address, or the /64 an IPv6 address is in (one host commonly has a whole /64 to pick addresses from).</summary>
    private static string AddressOf(IPAddress? address)
    {
        if (address is null)
            return "unknown";
        if (address.IsIPv4MappedToIPv6)
            return address.MapToIPv4().ToString();
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            return address.ToString();
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    /// <summary>A username as the limits know it: only a name that could exist, so that a megabyte of name costs no memory.</summary>
    private static string AccountOf(string account)
    {
        var name = account.ToLowerInvariant();
        return Contracts.Identifiers.IsAccount(name) ? name : "(not a username)";
    }

    private static string PairKey(string account, string address) => $"pair|{AccountOf(account)}|{address}";
    private static string AddressKey(string address) => "address|" + address;
    private static string AccountKey(string account) => "account|" + AccountOf(account);
    private static string KnownKey(string account, string address) => $"known|{AccountOf(account)}|{address}";

    public void Dispose() => _windows.Dispose();

    /// <summary>The times of the failures within the window, oldest first.</summary>
    private sealed class FailureWindow
    {
        private readonly Queue<DateTimeOffset> _failures = new();

        public void Add(DateTimeOffset at, TimeSpan window)
        {
            lock (_failures)
            {
                Expire(at, window);
                _failures.Enqueue(at);
                // More than any limit could need: the count past it does not matter.
                while (_failures.Count > 10_000)
                    _failures.Dequeue();
            }
        }

        /// <summary>Null while fewer than <paramref name="limit"/> failures are in the window; else the time until the oldest leaves it.</summary>
        public TimeSpan? WaitWhenOver(int limit, TimeSpan window, DateTimeOffset now)
        {
            lock (_failures)
            {
                Expire(now, window);
                if (_failures.Count < limit)
                    return null;
                return _failures.ElementAt(_failures.Count - limit) + window - now;
            }
        }

        private void Expire(DateTimeOffset now, TimeSpan window)
        {
            while (_failures.Count > 0 && _failures.Peek() <= now - window)
                _failures.Dequeue();
        }
    }
}

/// <summary>Failed sign-ins allowed within <see cref="Window"/> (see <see cref="SignInGuard"/>).</summary>
public sealed class SignInLimitOptions
{
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(15);
    public int FailuresPerAccountAndAddress { get; set; } = 10;
    public int FailuresPerAddress { get; set; } = 50;
    public int FailuresPerAccount { get; set; } = 100;

    /// <summary>How long an address a user signed in from stays exempt from the account-wide limit.</summary>
    public TimeSpan KnownAddressFor { get; set; } = TimeSpan.FromDays(30);
}
