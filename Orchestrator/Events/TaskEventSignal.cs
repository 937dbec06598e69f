namespace OpenHvx.Orchestrator.Events;

/// <summary>
/// Wakes this process's event readers (streams, the webhook dispatcher) when a transaction with events has committed, so that they
/// need not poll the log tightly. Another orchestrator's commits signal here through the broker (<see cref="Messaging.TaskEventWakeUp"/>);
/// readers still poll now and then, for when the broker is away.
/// A reader takes <see cref="Next"/> before it reads the log, so that a commit between its read and its wait is not missed.
/// </summary>
public sealed class TaskEventSignal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next <see cref="Pulse"/>.</summary>
    public Task Next => Volatile.Read(ref _next).Task;

    public void Pulse() => Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Waits for <paramref name="next"/> (taken from <see cref="Next"/>) or <paramref name="timeout"/>, whichever is first.</summary>
    public static async Task WaitAsync(Task next, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await next.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
        }
    }
}
