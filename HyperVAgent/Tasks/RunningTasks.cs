using System.Collections.Concurrent;

namespace OpenHvx.HyperVAgent.Tasks;

/// <summary>
/// Task ids this agent is handling now (waiting for their VM or running), with the attempt being handled: a second delivery of
/// that attempt or an older one (a re-sent dispatch) is dropped, not taken for a crash; a newer attempt (the orchestrator sent the
/// task here again) waits for the one in hand to be done, then the journal decides. One per agent (a singleton), so that a second
/// agent host in the same process (tests) has its own.
/// </summary>
public sealed class RunningTasks
{
    private readonly ConcurrentDictionary<Guid, (int Attempt, TaskCompletionSource Done)> _handling = new();

    /// <summary>
    /// True once this delivery may be handled (call <see cref="Leave"/> after); false when the same or a newer attempt of the task is
    /// being handled here.
    /// </summary>
    public async Task<bool> EnterAsync(Guid taskId, int attempt, CancellationToken cancellationToken)
    {
        var mine = (attempt, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        while (!_handling.TryAdd(taskId, mine))
        {
            if (!_handling.TryGetValue(taskId, out var current))
                continue;
            if (current.Attempt >= attempt)
                return false;
            await current.Done.Task.WaitAsync(cancellationToken);
        }
        return true;
    }

    /// <summary>Takes the task id at once if free (the result retry, which any delivery of the task may then skip).</summary>
    public bool TryEnter(Guid taskId) => _handling.TryAdd(taskId, (int.MaxValue, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)));

    public void Leave(Guid taskId)
    {
        if (_handling.TryRemove(taskId, out var left))
            left.Done.TrySetResult();
    }
}
