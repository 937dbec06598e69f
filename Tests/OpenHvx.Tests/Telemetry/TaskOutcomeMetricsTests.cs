using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Telemetry;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Telemetry;

/// <summary>
/// A task counts as finished once, with the status it first ended with, and its outcome is logged once: a success its agent reports
/// after the task failed (its deadline) changes neither. Measured on this harness's own meters (their scope is its meter factory).
/// </summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public sealed class TaskOutcomeMetricsTests
{
    [Test]
    public async Task A_late_success_after_a_deadline_failure_leaves_the_task_counted_and_logged_once_as_FAILED()
    {
        var log = new CapturedLog();
        await using var harness = await SagaHarness.StartAsync(services => services.AddSingleton<ILoggerProvider>(log),
            new Dictionary<string, string?> { ["Orchestrator:Deadlines:AwaitingResult"] = "00:00:00.200" });
        using var measurements = new HarnessMeasurements(harness.Get<IMeterFactory>());
        harness.Agent.Mode = FakeAgentMode.Silent;
        var submit = SagaHarness.VmCreate();

        await harness.SubmitAsync(submit);
        await harness.WaitForStateAsync(submit.TaskId, nameof(TaskStateMachine.Failed));
        await harness.Harness.Bus.Publish(FakeAgentBehaviour.Success(submit.TaskId, SagaHarness.AgentId, Guid.NewGuid()));
        await Eventually.Get(() => harness.LoadAsync(submit.TaskId), t => t!.LateSuccess, because: "the late success is recorded");
        await harness.Harness.InactivityTask;

        Assert.Multiple(() =>
        {
            Assert.That(measurements.Sum("openhvx.tasks.submitted", ("action", "vm.create")), Is.EqualTo(1));
            Assert.That(measurements.Sum("openhvx.tasks.finished", ("action", "vm.create"), ("status", TaskStatuses.Failed)), Is.EqualTo(1));
            Assert.That(measurements.Sum("openhvx.tasks.finished", ("action", "vm.create"), ("status", TaskStatuses.Succeeded)), Is.Zero);
            Assert.That(measurements.Count("openhvx.task.state.duration", ("state", nameof(TaskStateMachine.AwaitingResult))), Is.EqualTo(1));
            Assert.That(measurements.Count("openhvx.task.state.duration", ("state", nameof(TaskStateMachine.Failed))), Is.Zero);
        });
        var outcome = log.Lines.Where(l => l.Category == typeof(TaskTransitionMetrics).FullName).ToList();
        Assert.That(outcome, Has.Count.EqualTo(1), string.Join("\n", outcome));
        Assert.That(outcome[0].Level, Is.EqualTo(LogLevel.Warning));
        Assert.That(outcome[0].Message, Does.Contain(submit.TaskId.ToString()).And.Contain("vm.create").And.Contain(SagaHarness.TenantId)
            .And.Contain($"ended {TaskStatuses.Failed}").And.Contain(ErrorCodes.Deadline(nameof(TaskStateMachine.AwaitingResult))));
    }

    [Test]
    public async Task A_refused_task_counts_as_submitted_and_FAILED_with_the_time_of_each_state_it_passed()
    {
        await using var harness = await SagaHarness.StartAsync();
        using var measurements = new HarnessMeasurements(harness.Get<IMeterFactory>());

        var response = await harness.SubmitAsync(SagaHarness.VmCreate(image: "nope.latest"));
        Assert.That(response.Is(out Response<TaskRejected>? _), Is.True);
        await Eventually.True(() => Task.FromResult(measurements.Sum("openhvx.tasks.finished") == 1), because: "counted after the commit");

        Assert.Multiple(() =>
        {
            Assert.That(measurements.Sum("openhvx.tasks.submitted", ("action", "vm.create")), Is.EqualTo(1));
            Assert.That(measurements.Sum("openhvx.tasks.finished", ("action", "vm.create"), ("status", TaskStatuses.Failed)), Is.EqualTo(1));
            Assert.That(measurements.Count("openhvx.task.state.duration", ("state", nameof(TaskStateMachine.AwaitingResult))), Is.Zero);
            Assert.That(measurements.Count("openhvx.task.state.duration", ("state", nameof(TaskStateMachine.Validating))), Is.EqualTo(1));
        });
    }

    /// <summary>What the orchestrator's instruments of one service provider record.</summary>
    private sealed class HarnessMeasurements : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Instrument, Dictionary<string, object?> Tags, double Value)> _recorded = new();

        public HarnessMeasurements(IMeterFactory factory)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == OrchestratorDiagnostics.Name && ReferenceEquals(instrument.Meter.Scope, factory))
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.Start();
        }

        public double Sum(string instrument, params (string Key, string Value)[] tags) => Matching(instrument, tags).Sum(m => m.Value);

        public int Count(string instrument, params (string Key, string Value)[] tags) => Matching(instrument, tags).Count();

        private IEnumerable<(string Instrument, Dictionary<string, object?> Tags, double Value)> Matching(string instrument, (string Key, string Value)[] tags)
            => _recorded.Where(m => m.Instrument == instrument && tags.All(t => m.Tags.TryGetValue(t.Key, out var v) && Equals(v, t.Value)));

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = new Dictionary<string, object?>();
            foreach (var tag in tags)
                copy[tag.Key] = tag.Value;
            _recorded.Enqueue((instrument.Name, copy, value));
        }

        public void Dispose() => _listener.Dispose();
    }

    private sealed class CapturedLog : ILoggerProvider
    {
        public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturedLog log, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
                => log.Lines.Enqueue((category, logLevel, formatter(state, exception)));
        }
    }
}
