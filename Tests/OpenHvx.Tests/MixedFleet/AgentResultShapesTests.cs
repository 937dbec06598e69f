using System.Text.Json;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Messaging;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.MixedFleet;

/// <summary>A result's outcome and error, whichever generation sent it.</summary>
[TestFixture]
[Category("Unit")]
public sealed class AgentResultShapesTests
{
    private static AgentWireMessage Read(string json) => JsonSerializer.Deserialize<AgentWireMessage>(json, MassTransit.Serialization.SystemTextJsonMessageSerializer.Options)!;

    private static AgentWireMessage Fixture(string name) => Read(System.Text.Encoding.UTF8.GetString(OriginalFixtures.Body(name)));

    [Test]
    public void The_original_agents_success_with_an_empty_error_string_is_a_success_without_error()
    {
        var (ok, error) = AgentMessageCheck.OutcomeOf(Fixture("agent-result-vm.create-ok"));

        Assert.That(ok, Is.True);
        Assert.That(error, Is.Null);
    }

    [Test]
    public void The_original_agents_error_string_is_the_message_of_a_script_failure()
    {
        var (ok, error) = AgentMessageCheck.OutcomeOf(Fixture("agent-result-vm.power-error"));

        Assert.That(ok, Is.False);
        Assert.That(error!.Code, Is.EqualTo(ErrorCodes.ScriptFailed));
        Assert.That(error.Message, Is.EqualTo("unsupported state 'stop' (use: on|off|shutdown|restart|pause|resume|save)"));
    }

    [Test]
    public void A_failure_whose_stderr_the_original_agent_lost_keeps_its_generic_message()
    {
        var (ok, error) = AgentMessageCheck.OutcomeOf(Fixture("agent-result-stderr-only-error"));

        Assert.That(ok, Is.False);
        Assert.That(error!.Message, Is.EqualTo("action script failed"));
    }

    [Test]
    public void Our_string_error_keeps_the_code_and_details_sent_beside_it()
    {
        var (ok, error) = AgentMessageCheck.OutcomeOf(Read("""{"ok":false,"error":"VM not found","errorCode":"ERR_RESOURCE_GONE","errorDetails":{"vmId":"x"}}"""));

        Assert.That(ok, Is.False);
        Assert.That(error!.Code, Is.EqualTo(ErrorCodes.ResourceGone));
        Assert.That(error.Details!.Value.GetProperty("vmId").GetString(), Is.EqualTo("x"));
    }

    [Test]
    public void An_error_object_of_our_previous_release_is_read_as_before()
    {
        var (_, error) = AgentMessageCheck.OutcomeOf(Read("""{"ok":false,"error":{"code":"ERR_TIMEOUT","message":"too slow"}}"""));

        Assert.That(error, Is.EqualTo(new AgentError(ErrorCodes.Timeout, "too slow")));
    }

    [Test]
    public void A_code_that_is_not_a_code_is_not_kept()
    {
        var (_, error) = AgentMessageCheck.OutcomeOf(Read("""{"ok":false,"error":"boom","errorCode":"<script>\nERR"}"""));

        Assert.That(error!.Code, Is.EqualTo(ErrorCodes.ScriptFailed));
    }

    [Test]
    public void A_script_that_printed_ok_false_but_exited_zero_is_a_failure_although_the_original_agent_says_ok()
    {
        var (ok, error) = AgentMessageCheck.OutcomeOf(Read("""{"ok":true,"error":"","result":{"ok":false,"error":"VM 'x' not found"}}"""));

        Assert.That(ok, Is.False);
        Assert.That(error!.Message, Is.EqualTo("VM 'x' not found"));
    }
}
