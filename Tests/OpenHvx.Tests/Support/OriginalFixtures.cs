using System.Text;
using System.Text.Json;
using OpenHvx.Contracts;
using RabbitMQ.Client;

namespace OpenHvx.Tests.Support;

/// <summary>
/// The original OpenHVX generation's wire messages, byte for byte (Tests/fixtures/original-openhvx, with their provenance):
/// <c>X.json</c> is the body, <c>X.amqp.json</c> its exchange, routing key, properties and headers.
/// </summary>
public static class OriginalFixtures
{
    /// <summary>The agent id every fixture of the original agent carries.</summary>
    public const string AgentId = "HOST-OPENHVX-HYPERV-001";

    /// <summary>The VM the fixtures' inventory lists and their vm.create result built.</summary>
    public const string VmGuid = "6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5";

    public static string Folder => Path.Combine(ServiceProcess.RepositoryRoot, "Tests", "fixtures", "original-openhvx");

    public static byte[] Body(string name) => File.ReadAllBytes(Path.Combine(Folder, name + ".json"));

    /// <summary>The body with one text replaced (a task id that must be the one this run created), all other bytes as they are.</summary>
    public static byte[] Body(string name, string replace, string with)
    {
        var text = Encoding.UTF8.GetString(Body(name));
        if (!text.Contains(replace, StringComparison.Ordinal))
            throw new InvalidOperationException($"Fixture {name} does not contain '{replace}'.");
        return Encoding.UTF8.GetBytes(text.Replace(replace, with, StringComparison.Ordinal));
    }

    public static JsonElement Amqp(string name) => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, name + ".amqp.json"))).RootElement.Clone();

    /// <summary>A controller task as the agent's consumer reads it (MassTransit's raw JSON options).</summary>
    public static AgentTask Task(string name) => Task(Body(name));

    public static AgentTask Task(byte[] body) => JsonSerializer.Deserialize<AgentTask>(body, MassTransit.Serialization.SystemTextJsonMessageSerializer.Options)!;

    /// <summary>The task id a fixture's body names.</summary>
    public static string TaskIdOf(string name) => JsonDocument.Parse(Body(name)).RootElement.GetProperty("taskId").GetString()!;

    /// <summary>Publishes the fixture as the original generation does: its exchange, routing key, properties and headers (correlationId replaced too when given).</summary>
    public static async Task PublishAsync(IChannel channel, string name, byte[] body, string? correlationId = null, string? routingKey = null)
    {
        var sidecar = Amqp(name);
        var properties = new BasicProperties();
        if (sidecar.TryGetProperty("properties", out var props))
        {
            if (props.TryGetProperty("contentType", out var type))
                properties.ContentType = type.GetString();
            if (props.TryGetProperty("deliveryMode", out var mode))
                properties.DeliveryMode = (DeliveryModes)mode.GetInt32();
            if (props.TryGetProperty("correlationId", out var correlation))
                properties.CorrelationId = correlationId ?? correlation.GetString();
        }
        if (sidecar.TryGetProperty("headers", out var headers) && headers.ValueKind == JsonValueKind.Object)
        {
            // The Go agent sends AMQP long strings; the client library sends a byte array as one.
            properties.Headers = headers.EnumerateObject().ToDictionary(h => h.Name, h => (object?)Encoding.UTF8.GetBytes(h.Value.GetString()!));
        }
        var mandatory = sidecar.TryGetProperty("mandatory", out var m) && m.GetBoolean();
        await channel.BasicPublishAsync(sidecar.GetProperty("exchange").GetString()!, routingKey ?? sidecar.GetProperty("routingKey").GetString()!, mandatory,
            properties, body);
    }
}
