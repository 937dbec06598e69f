using System.Text.Json;
using MassTransit.Serialization;
using OpenHvx.Contracts;

namespace OpenHvx.Tests.Support;

/// <summary>Tests/fixtures/original-openhvx: what the original OpenHVX generation puts on the wire (FINDINGS.md there).</summary>
public static class OriginalOpenHvxFixtures
{
    public static string Folder => Path.Combine(ServiceProcess.RepositoryRoot, "Tests", "fixtures", "original-openhvx");

    /// <summary>The body bytes of <paramref name="name"/> (for example <c>controller-task-vm.power</c>), exactly as published.</summary>
    public static byte[] Body(string name) => File.ReadAllBytes(Path.Combine(Folder, name + ".json"));

    /// <summary>The exchange, routing key and properties the body was published with.</summary>
    public static JsonElement Amqp(string name) => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, name + ".amqp.json"))).RootElement.Clone();

    /// <summary>A controller task as the agent's consumer reads it (MassTransit's raw JSON options).</summary>
    public static AgentTask Task(string name) => Task(Body(name));

    public static AgentTask Task(byte[] body) => JsonSerializer.Deserialize<AgentTask>(body, SystemTextJsonMessageSerializer.Options)!;
}
