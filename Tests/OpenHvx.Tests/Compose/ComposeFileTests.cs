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
    public void The_stack_has_the_orchestrator_rabbitmq_and_a_mongodb_replica_set()
    {
        Assert.That(Services.Children.Keys.Select(k => k.ToString()), Is.SupersetOf(new[] { "orchestrator", "rabbitmq", "mongo" }));
        Assert.That(Service("mongo")["image"].ToString(), Does.StartWith("mongo:"));
        Assert.That(((YamlSequenceNode)Service("mongo")["command"]).Children.Select(c => c.ToString()), Does.Contain("--replSet"));
        Assert.That(Service("rabbitmq")["image"].ToString(), Does.Match("^rabbitmq:.*management"));
    }

    [Test]
    public void The_orchestrator_is_built_from_a_Dockerfile_in_the_repository()
    {
        var build = (YamlMappingNode)Service("orchestrator")["build"];
        var context = Path.GetFullPath(Path.Combine(ComposeFolder, build["context"].ToString()));
        Assert.That(File.Exists(Path.Combine(context, build["dockerfile"].ToString())), Is.True);
        Assert.That(File.Exists(Path.Combine(context, "Orchestrator", "OpenHvx.Orchestrator.csproj")), Is.True);
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
        var dependsOn = (YamlMappingNode)Service("orchestrator")["depends_on"];
        foreach (var (name, condition) in dependsOn.Children)
            Assert.That(((YamlMappingNode)condition)["condition"].ToString(), Is.EqualTo("service_healthy"), name.ToString());
    }

    [Test]
    public void State_lives_in_named_volumes_that_are_declared()
    {
        var declared = ((YamlMappingNode)_root["volumes"]).Children.Keys.Select(k => k.ToString()).ToHashSet();
        foreach (var name in new[] { "mongo", "rabbitmq", "orchestrator" })
        {
            var mounts = ((YamlSequenceNode)Service(name)["volumes"]).Children.Select(v => v.ToString().Split(':')[0]).ToList();
            Assert.That(mounts, Is.Not.Empty, name);
            Assert.That(mounts, Is.All.Matches<string>(declared.Contains), $"{name} mounts only declared named volumes");
        }
    }

    [Test]
    public void Only_the_api_and_the_agent_port_are_published_and_bound_to_loopback_by_default()
    {
        var published = Services.Children
            .Where(s => HasKey((YamlMappingNode)s.Value, "ports"))
            .SelectMany(s => ((YamlSequenceNode)((YamlMappingNode)s.Value)["ports"]).Children.Select(p => (Service: s.Key.ToString(), Port: p.ToString())))
            .ToList();
        Assert.That(published.Select(p => p.Service), Is.EquivalentTo(new[] { "orchestrator", "rabbitmq" }));
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
