using System.Text.RegularExpressions;
using OpenHvx.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace OpenHvx.Tests.Compose;

/// <summary>Docker does not run on these machines: the compose stack is checked by structure.</summary>
[TestFixture]
[Category("Unit")]
public sealed class ComposeFileTests
{
    private static readonly string ComposeFolder = Path.Combine(ServiceProcess.RepositoryRoot, "compose");
    private YamlMappingNode _root = null!;

    [OneTimeSetUp]
    public void Load()
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(Path.Combine(ComposeFolder, "docker-compose.yml"));
        stream.Load(reader);
        _root = (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private YamlMappingNode Services => (YamlMappingNode)_root["services"];
    private YamlMappingNode Service(string name) => (YamlMappingNode)Services[name];

    private static bool HasKey(YamlMappingNode node, string key) => node.Children.ContainsKey(new YamlScalarNode(key));

    [Test]
    public void The_stack_has_the_gateway_orchestrator_rabbitmq_and_a_mongodb_replica_set()
    {
        Assert.That(Services.Children.Keys.Select(k => k.ToString()), Is.SupersetOf(new[] { "gateway", "orchestrator", "rabbitmq", "mongo" }));
        Assert.That(Service("mongo")["image"].ToString(), Does.StartWith("mongo:"));
        Assert.That(((YamlSequenceNode)Service("mongo")["command"]).Children.Select(c => c.ToString()), Does.Contain("--replSet"));
        Assert.That(Service("rabbitmq")["image"].ToString(), Does.Match("^rabbitmq:.*management"));
    }

    [TestCase("orchestrator", "Orchestrator")]
    [TestCase("gateway", "Gateway")]
    public void Our_services_are_built_from_a_Dockerfile_in_the_repository(string service, string project)
    {
        var build = (YamlMappingNode)Service(service)["build"];
        var context = Path.GetFullPath(Path.Combine(ComposeFolder, build["context"].ToString()));
        var dockerfile = Path.Combine(context, build["dockerfile"].ToString());
        Assert.That(File.Exists(dockerfile), Is.True);
        Assert.That(File.Exists(Path.Combine(context, project, $"OpenHvx.{project}.csproj")), Is.True);
        Assert.That(File.ReadAllText(dockerfile), Does.Contain($"OpenHvx.{project}.dll"));
    }

    [Test]
    public void The_orchestrator_validates_tokens_against_the_gateway_and_the_gateway_proxies_to_it()
    {
        var orchestrator = (YamlMappingNode)Service("orchestrator")["environment"];
        var gateway = (YamlMappingNode)Service("gateway")["environment"];
        Assert.That(orchestrator["OPENHVX_AUTHORITY"].ToString(), Is.EqualTo("http://gateway:8080"));
        Assert.That(gateway["OPENHVX_ORCHESTRATOR_URL"].ToString(), Is.EqualTo("http://orchestrator:8080"));
        Assert.That(gateway["OPENHVX_ADMIN_PASSWORD"].ToString(), Does.StartWith("${OPENHVX_ADMIN_PASSWORD:?"), "required, from the env file");
    }

    [Test]
    public void Every_service_has_a_health_check_and_dependencies_wait_for_health()
    {
        foreach (var (name, node) in Services.Children)
        {
            var service = (YamlMappingNode)node;
            Assert.That(HasKey(service, "healthcheck"), Is.True, $"{name} has a health check");
            Assert.That(((YamlMappingNode)service["healthcheck"])["test"], Is.Not.Null);
        }
        foreach (var service in new[] { "orchestrator", "gateway" })
        {
            var dependsOn = (YamlMappingNode)Service(service)["depends_on"];
            foreach (var (name, condition) in dependsOn.Children)
                Assert.That(((YamlMappingNode)condition)["condition"].ToString(), Is.EqualTo("service_healthy"), $"{service} -> {name}");
        }
    }

    [Test]
    public void State_lives_in_named_volumes_that_are_declared()
    {
        var declared = ((YamlMappingNode)_root["volumes"]).Children.Keys.Select(k => k.ToString()).ToHashSet();
        foreach (var name in new[] { "mongo", "rabbitmq", "orchestrator", "gateway" })
        {
            var mounts = ((YamlSequenceNode)Service(name)["volumes"]).Children.Select(v => v.ToString().Split(':')[0]).ToList();
            Assert.That(mounts, Is.Not.Empty, name);
            Assert.That(mounts, Is.All.Matches<string>(declared.Contains), $"{name} mounts only declared named volumes");
        }
    }

    [Test]
    public void Only_the_gateway_and_the_agent_port_are_published_and_bound_to_loopback_by_default()
    {
        var published = Services.Children
            .Where(s => HasKey((YamlMappingNode)s.Value, "ports"))
            .SelectMany(s => ((YamlSequenceNode)((YamlMappingNode)s.Value)["ports"]).Children.Select(p => (Service: s.Key.ToString(), Port: p.ToString())))
            .ToList();
        Assert.That(published.Select(p => p.Service), Is.EquivalentTo(new[] { "gateway", "rabbitmq" }), "the orchestrator is reached through the gateway only");
        Assert.That(published.Select(p => p.Port), Is.All.StartsWith("${").And.All.Contains(":-127.0.0.1}"));
        Assert.That(published.Select(p => p.Port), Has.None.Contains("15672"), "the management UI is not published");
    }

    [Test]
    public void No_secret_is_written_in_the_files_and_the_env_file_is_not_committed()
    {
        var text = File.ReadAllText(Path.Combine(ComposeFolder, "docker-compose.yml"));
        var environment = Services.Children.Values.Cast<YamlMappingNode>().Where(s => HasKey(s, "environment"))
            .SelectMany(s => ((YamlMappingNode)s["environment"]).Children).ToList();
        foreach (var (key, value) in environment.Where(e => Regex.IsMatch(e.Key.ToString(), "PASS|SECRET|TOKEN")))
            Assert.That(value.ToString(), Does.StartWith("${"), $"{key} comes from the env file");
        foreach (var (key, value) in environment.Where(e => e.Value.ToString().Contains('@')))
            Assert.That(value.ToString(), Does.Match(@"://\$\{[A-Z_]+\}:\$\{[A-Z_]+\}@"), $"{key} takes its credentials from the env file");
        Assert.That(text, Does.Not.Contain("guest"));
        Assert.That(File.Exists(Path.Combine(ComposeFolder, ".env.example")), Is.True);
        Assert.That(Regex.IsMatch(File.ReadAllText(Path.Combine(ComposeFolder, ".env.example")), @"PASSWORD=\S"), Is.False, "the example carries no password");
        Assert.That(File.ReadAllText(Path.Combine(ServiceProcess.RepositoryRoot, ".gitignore")), Does.Contain("compose/.env"));
    }
}
