using System.Text.Json;
using OpenHvx.Contracts.Actions;

namespace OpenHvx.Tests.Contracts;

/// <summary>Reading an action's data into its record: every problem at once, keyed by JSON path, the records' own rules applied.</summary>
[TestFixture]
[Category("Unit")]
public sealed class ActionDataTests
{
    private static (T? Value, Dictionary<string, List<string>> Errors) Read<T>(string json) where T : class
    {
        var errors = new Dictionary<string, List<string>>();
        var value = ActionData.Read<T>(JsonDocument.Parse(json).RootElement, (field, message) =>
        {
            if (!errors.TryGetValue(field, out var list))
                errors[field] = list = [];
            list.Add(message);
        });
        return (value, errors);
    }

    [Test]
    public void A_valid_create_is_read_into_its_record_with_units_and_nested_records()
    {
        var (spec, errors) = Read<VmCreateData>("""
            {"name":"web-01","cpu":4,"ram":"4GB","cloudInit":{"user":"ops","sshAuthorizedKeys":["ssh-ed25519 AAAA"],
             "network":{"mode":"static","address":"10.0.0.0/24","gateway":"10.0.0.1","nameservers":["1.1.1.1"]}}}
            """);
        Assert.That(errors, Is.Empty);
        Assert.That(spec!.Name, Is.EqualTo("web-01"));
        Assert.That(spec.Cpu, Is.EqualTo(4));
        Assert.That(spec.Ram!.Value.MegaBytes, Is.EqualTo(4096));
        Assert.That(spec.CloudInit!.Network!.Gateway, Is.EqualTo("10.0.0.1"));
    }

    [Test]
    public void Unknown_members_wrong_types_and_broken_rules_are_all_reported_at_once_by_path()
    {
        var (spec, errors) = Read<VmCreateData>("""
            {"name":"bad name!","cpu":"2","ram":"256MB","colour":"blue","generation":3,
             "cloudInit":{"user":"Root","evil":1,"packages":["ok","no spaces"],"network":{"mode":"static"}}}
            """);
        Assert.That(spec, Is.Null);
        Assert.That(errors.Keys, Is.EquivalentTo(new[]
        {
            "data.name", "data.cpu", "data.ram", "data.colour", "data.generation",
            "data.cloudInit.user", "data.cloudInit.evil", "data.cloudInit.packages",
            "data.cloudInit.network.address", "data.cloudInit.network.gateway",
        }));
        Assert.That(errors["data.cpu"], Is.EqualTo(new[] { "must be an integer from 1 to 64" }), "a wrong type says what the member takes");
        Assert.That(errors["data.colour"], Is.EqualTo(new[] { "unknown field" }));
        Assert.That(errors["data.generation"], Is.EqualTo(new[] { "must be 1 or 2" }));
    }

    [Test]
    public void A_records_own_rules_run_once_its_members_are_valid()
    {
        var (_, network) = Read<VmCreateData>("""{"name":"a","cloudInit":{"network":{"mode":"static"}}}""");
        Assert.That(network.Keys, Is.EquivalentTo(new[] { "data.cloudInit.network.address", "data.cloudInit.network.gateway" }));

        var (_, dhcp) = Read<VmCreateData>("""{"name":"a","cloudInit":{"network":{"mode":"dhcp","gateway":"10.0.0.1"}}}""");
        Assert.That(dhcp["data.cloudInit.network"], Is.EqualTo(new[] { "address and gateway apply to static mode only" }));

        var (_, edit) = Read<VmEditData>("{}");
        Assert.That(edit["data"], Is.EqualTo(new[] { "names at least one change: cpu, ram, name, switch or dynamicMemory" }));

        var (_, memory) = Read<VmEditData>("""{"dynamicMemory":{"min":"4GB","max":"1GB"}}""");
        Assert.That(memory.Keys, Is.EqualTo(new[] { "data.dynamicMemory" }));
    }

    [TestCase("""{"name":null,"cpu":2}""", "data.name", "is required")]
    [TestCase("""{"name":"a","cpu":null}""", null, null)]
    [TestCase("""{"name":"a\n"}""", "data.name", "must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    [TestCase("""{"name":"a","cpu":1e400}""", "data.cpu", "must be an integer from 1 to 64")]
    [TestCase("""{"name":"a","cpu":2.5}""", "data.cpu", "must be an integer from 1 to 64")]
    [TestCase("""{"name":"a","switch":"x\u0007"}""", "data.switch", "must be a virtual switch name (1 to 100 printable characters)")]
    [TestCase("""{"name":"a","cloudInit":[]}""", "data.cloudInit", "must be an object")]
    [TestCase("""{"name":"a","cloudInit":{"runcmd":"echo"}}""", "data.cloudInit.runcmd", "must be commands of at most 4096 printable characters (at most 100, one line each)")]
    public void Null_is_absent_and_each_wrong_value_names_its_rule(string json, string? field, string? message)
    {
        var (_, errors) = Read<VmCreateData>(json);
        if (field is null)
            Assert.That(errors, Is.Empty);
        else
            Assert.That(errors[field], Is.EqualTo(new[] { message }));
    }

    [TestCase("10.0.0.5/24", true)]
    [TestCase("10.0.0.0/24", true)]
    [TestCase("fd00::5/64", true)]
    [TestCase("10.0.0.5/33", false)]
    [TestCase("10.1/24", false)]
    [TestCase("10.0.0.5", false)]
    [TestCase("10.0.0.5/ 24", false)]
    public void A_static_address_is_a_hosts_address_with_its_prefix(string address, bool valid)
    {
        var (_, errors) = Read<VmCreateData>("""{"name":"a","cloudInit":{"network":{"mode":"static","address":""" + JsonSerializer.Serialize(address) + ""","gateway":"10.0.0.1"}}}""");
        Assert.That(errors.ContainsKey("data.cloudInit.network.address"), Is.EqualTo(!valid), string.Join("; ", errors.Select(e => e.Key)));
    }

    [TestCase("1")]
    [TestCase("10.1")]
    [TestCase("0x0a000001")]
    public void A_nameserver_is_a_whole_address(string nameserver)
    {
        var (_, errors) = Read<VmCreateData>("""{"name":"a","cloudInit":{"network":{"mode":"dhcp","nameservers":[""" + JsonSerializer.Serialize(nameserver) + """]}}}""");
        Assert.That(errors.Keys, Is.EqualTo(new[] { "data.cloudInit.network.nameservers" }));
    }

    [Test]
    public void Data_that_is_not_an_object_is_refused_as_a_whole()
    {
        var (_, errors) = Read<VmPowerData>("[1]");
        Assert.That(errors["data"], Is.EqualTo(new[] { "must be an object" }));
    }

    [TestCase("2GB", 2048)]
    [TestCase("512 mb", 512)]
    [TestCase("1TB", 1024 * 1024)]
    public void Memory_sizes_are_read_with_their_unit(string text, long megaBytes)
    {
        Assert.That(MemorySize.TryParse(text, out var size), Is.True);
        Assert.That(size.MegaBytes, Is.EqualTo(megaBytes));
    }

    [TestCase("2GB\n")]
    [TestCase("2PB")]
    [TestCase("-1GB")]
    [TestCase("99999999999999TB")]
    public void Memory_sizes_outside_the_form_are_refused(string text) => Assert.That(MemorySize.TryParse(text, out _), Is.False);
}
