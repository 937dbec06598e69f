using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator;
using OpenHvx.Orchestrator.Tasks;

namespace OpenHvx.Tests.Tasks;

/// <summary>When the task API tells a client to come back: Retry-After of its 202 and 503 answers, from the orchestrator's settings.</summary>
[TestFixture]
[Category("Unit")]
public sealed class TaskAnswersTests
{
    private static readonly Caller Admin = new(true, null, "admin");

    private static async Task<IHeaderDictionary> HeadersOfAsync(TaskAnswer answer)
    {
        var http = new DefaultHttpContext();
        await answer.ToResult().ExecuteAsync(http);
        return http.Response.Headers;
    }

    [Test]
    public async Task A_202_carries_the_polling_interval_in_whole_seconds_rounded_up_and_the_tasks_Location()
    {
        var answers = new TaskAnswers(Options.Create(new OrchestratorOptions { RetryAfter = { Polling = TimeSpan.FromMilliseconds(1500) } }));
        var taskId = Guid.NewGuid();

        var headers = await HeadersOfAsync(answers.Accepted(Admin, taskId, TaskStatuses.Sent, "AwaitingResult", "agent-1"));

        Assert.That(headers.RetryAfter.ToString(), Is.EqualTo("2"));
        Assert.That(headers.Location.ToString(), Is.EqualTo($"/api/v1/admin/tasks/{taskId}"));
        var byDefault = await HeadersOfAsync(new TaskAnswers(Options.Create(new OrchestratorOptions())).Accepted(Admin, taskId, TaskStatuses.Sent, "AwaitingResult", null));
        Assert.That(byDefault.RetryAfter.ToString(), Is.EqualTo("2"));
    }

    [Test]
    public async Task A_503_carries_Retry_After_the_agents_heartbeat_interval_by_default_or_as_configured_and_other_refusals_none()
    {
        var defaults = new TaskAnswers(Options.Create(new OrchestratorOptions { Agents = { HeartbeatInterval = TimeSpan.FromSeconds(15) } }));
        var configured = new TaskAnswers(Options.Create(new OrchestratorOptions
        {
            RetryAfter = { NoEligibleAgent = TimeSpan.FromSeconds(30), Unavailable = TimeSpan.FromSeconds(7) },
        }));
        var taskId = Guid.NewGuid();

        Assert.That((await HeadersOfAsync(defaults.Rejected(Admin, taskId, new TaskError(ErrorCodes.NoEligibleAgent, "none")))).RetryAfter.ToString(), Is.EqualTo("15"));
        Assert.That((await HeadersOfAsync(defaults.Problem(ErrorCodes.Unavailable, "later"))).RetryAfter.ToString(), Is.EqualTo("5"));
        Assert.That((await HeadersOfAsync(configured.Rejected(Admin, taskId, new TaskError(ErrorCodes.NoEligibleAgent, "none")))).RetryAfter.ToString(), Is.EqualTo("30"));
        Assert.That((await HeadersOfAsync(configured.Problem(ErrorCodes.Unavailable, "later"))).RetryAfter.ToString(), Is.EqualTo("7"));
        var quota = defaults.Rejected(Admin, taskId, new TaskError(ErrorCodes.QuotaExceeded, "full"));
        Assert.That((quota.StatusCode, (await HeadersOfAsync(quota)).ContainsKey("Retry-After")), Is.EqualTo((409, false)));
    }
}
