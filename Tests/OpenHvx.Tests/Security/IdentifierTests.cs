using OpenHvx.Contracts;

namespace OpenHvx.Tests.Security;

/// <summary>Identifiers are matched whole: .NET's <c>$</c> lets a trailing newline through, <c>\z</c> does not.</summary>
[TestFixture]
[Category("Unit")]
public sealed class IdentifierTests
{
    public static IEnumerable<TestCaseData> Rules()
    {
        yield return new TestCaseData((Func<string?, bool>)Identifiers.IsTenantId, "nltenant").SetName("tenant id");
        yield return new TestCaseData((Func<string?, bool>)Identifiers.IsAgentId, "agent-b").SetName("agent id");
        yield return new TestCaseData((Func<string?, bool>)Identifiers.IsVmName, "web1").SetName("VM name");
        yield return new TestCaseData((Func<string?, bool>)Identifiers.IsAccount, "dave").SetName("account");
        yield return new TestCaseData((Func<string?, bool>)Identifiers.IsCatalogName, "Rocky-10.latest").SetName("catalog name");
        yield return new TestCaseData((Func<string?, bool>)Identifiers.IsImageFile, "rocky.vhdx").SetName("image file");
        yield return new TestCaseData((Func<string?, bool>)(value => Identifiers.TryParseId(value, out _)), "0f8fad5b-d9cb-469f-a165-70867728950e").SetName("task id");
    }

    [TestCaseSource(nameof(Rules))]
    public void A_valid_identifier_passes_and_the_same_with_a_trailing_newline_or_around_it_does_not(Func<string?, bool> rule, string valid)
    {
        Assert.That(rule(valid), Is.True);
        foreach (var hostile in new[] { valid + "\n", valid + "\r\n", "\n" + valid, valid + " ", valid + "\0", null })
            Assert.That(rule(hostile), Is.False, hostile is null ? "null" : hostile.Replace("\n", "\\n").Replace("\r", "\\r").Replace("\0", "\\0"));
    }

    [Test]
    public void Text_is_printable_and_bounded()
    {
        Assert.That(TextRules.IsPrintable("Corp ACME", 200), Is.True);
        Assert.That(TextRules.IsPrintable("echo\thi", 4096, tab: true), Is.True);
        Assert.That(TextRules.IsPrintable("echo\thi", 4096), Is.False);
        Assert.That(TextRules.IsPrintable("name\n", 200), Is.False);
        Assert.That(TextRules.IsPrintable("bell\u0007", 200), Is.False);
        Assert.That(TextRules.IsPrintable("", 200), Is.False);
        Assert.That(TextRules.IsPrintable(new string('a', 201), 200), Is.False);
    }
}
