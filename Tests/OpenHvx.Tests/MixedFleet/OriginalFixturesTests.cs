using System.Security.Cryptography;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.MixedFleet;

/// <summary>The original generation's messages the tests replay are the bytes PROVENANCE.md describes.</summary>
[TestFixture]
[Category("Unit")]
public sealed class OriginalFixturesTests
{
    [Test]
    public void Every_fixture_is_byte_for_byte_what_its_recorded_checksum_says()
    {
        var sums = File.ReadAllLines(Path.Combine(OriginalFixtures.Folder, "SHA256SUMS")).Where(l => l.Length > 0)
            .Select(l => l.Split("  ", 2)).ToDictionary(p => p[1], p => p[0]);
        var files = Directory.EnumerateFiles(OriginalFixtures.Folder, "*.json").Select(Path.GetFileName).ToList();

        Assert.That(sums.Keys, Is.EquivalentTo(files), "every fixture has a checksum, and every checksum a fixture");
        foreach (var file in files)
            Assert.That(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(OriginalFixtures.Folder, file!)))), Is.EqualTo(sums[file!]), file);
    }
}
