using System.Security.Claims;
using OpenHvx.Gateway.Federation;

namespace OpenHvx.Tests.Gateway;

/// <summary>Entra ID app roles and directories become our roles and tenants (no live Entra is reachable here).</summary>
[TestFixture]
[Category("Unit")]
public sealed class EntraMappingTests
{
    private static readonly EntraMapping Mapping = new()
    {
        Tenants = new(StringComparer.OrdinalIgnoreCase) { ["dir-contoso"] = "contoso" },
        AdminDirectories = new(StringComparer.OrdinalIgnoreCase) { "dir-operator" },
    };

    private static ClaimsPrincipal Entra(string tid, params string[] roles)
    {
        var identity = new ClaimsIdentity("Entra");
        identity.AddClaim(new Claim("oid", "00000000-0000-0000-0000-00000000000a"));
        identity.AddClaim(new Claim("tid", tid));
        foreach (var role in roles)
            identity.AddClaim(new Claim("roles", role));
        return new ClaimsPrincipal(identity);
    }

    [Test]
    public void A_global_admin_app_role_becomes_an_admin_identity_without_tenant()
    {
        var mapped = Mapping.Map(Entra("dir-operator", "OpenHvx.GlobalAdmin"))!;
        Assert.That(mapped.FindFirst("aud")!.Value, Is.EqualTo("admin"));
        Assert.That(mapped.FindAll("role").Select(c => c.Value), Is.EqualTo(new[] { "global-admin" }));
        Assert.That(mapped.FindFirst("tenant_id"), Is.Null);
        Assert.That(mapped.FindFirst("scope")!.Value, Is.EqualTo("openhvx.admin"));
        Assert.That(mapped.FindFirst("sub")!.Value, Is.EqualTo("entra:00000000-0000-0000-0000-00000000000a"));
    }

    [Test]
    public void A_tenant_app_role_in_a_mapped_directory_becomes_that_tenants_user()
    {
        var mapped = Mapping.Map(Entra("DIR-CONTOSO", "OpenHvx.TenantUser", "Some.Other.Role"))!;
        Assert.That(mapped.FindFirst("aud")!.Value, Is.EqualTo("tenant"));
        Assert.That(mapped.FindFirst("tenant_id")!.Value, Is.EqualTo("contoso"));
        Assert.That(mapped.FindAll("role").Select(c => c.Value), Is.EqualTo(new[] { "tenant-user-rw" }));
        Assert.That(mapped.FindFirst("scope")!.Value.Split(' '), Is.EquivalentTo(new[] { "openhvx.read", "openhvx.write" }));
    }

    [Test]
    public void A_reader_app_role_gets_read_scope_only()
    {
        var mapped = Mapping.Map(Entra("dir-contoso", "OpenHvx.TenantReader"))!;
        Assert.That(mapped.FindFirst("scope")!.Value, Is.EqualTo("openhvx.read"));
    }

    [TestCase("dir-unknown", new[] { "OpenHvx.TenantUser" }, TestName = "A tenant role from an unmapped directory is refused")]
    [TestCase("dir-attacker", new[] { "OpenHvx.GlobalAdmin" }, TestName = "A global-admin app role from another directory is refused")]
    [TestCase("dir-contoso", new[] { "OpenHvx.GlobalAdmin" }, TestName = "A customer directory cannot grant global-admin")]
    [TestCase("dir-contoso", new[] { "Contoso.Everything" }, TestName = "An identity without a known app role is refused")]
    [TestCase("dir-contoso", new string[0], TestName = "An identity without app roles is refused")]
    [TestCase("dir-contoso", new[] { "OpenHvx.GlobalAdmin", "OpenHvx.TenantUser" }, TestName = "Admin and tenant roles at once are refused, not guessed")]
    public void Identities_that_map_to_nothing_are_refused(string tid, string[] roles)
    {
        Assert.That(Mapping.Map(Entra(tid, roles)), Is.Null);
    }

    [TestCase("https://login.microsoftonline.com/abc/v2.0", true)]
    [TestCase("https://sts.windows.net/abc/", true)]
    [TestCase("http://localhost:8080/", false)]
    [TestCase("https://login.microsoftonline.com.evil.example/", false)]
    public void Entra_issuers_are_recognised_by_prefix(string issuer, bool entra)
    {
        Assert.That(EntraFederation.IsEntraIssuer(issuer), Is.EqualTo(entra));
    }
}
