using System.Collections.Concurrent;

namespace OpenHvx.HyperVAgent.Tasks;

/// <summary>
/// Task ids this agent is handling now (waiting for their VM or running), with the attempt being handled: a second delivery of
/// that attempt or an older one (a re-sent dispatch) is dropped, not taken for a crash; a newer attempt (the orchestrator sent the
/// task here again) waits for the one in hand to be done, then the journal decides. Each has a cancellation that a cancel from the
/// orchestrator signals (<see cref="TryCancel"/>). One per agent (a singleton), so that a second agent host in the same process (tests)
/// has its own.
/// </summary>
public sealed class RunningTasks
{
    private readonly ConcurrentDictionary<Guid, Entry> _handling = new();

    /// <summary>
    /// True once this delivery may be handled (call <see cref="Leave"/> after); false when the same or a newer attempt of the task is
    /// being handled here.
    /// </summary>
    public async Task<bool> EnterAsync(Guid taskId, int attempt, CancellationToken cancellationToken)
    {
        var mine = new Entry(attempt);
        while (!_handling.TryAdd(taskId, mine))
        {
            if (!_handling.TryGetValue(taskId, out var current))
                continue;
            if (current.Attempt >= attempt)
            {
                mine.Cancel.Dispose();
                return false;
            }
            await current.Done.Task.WaitAsync(cancellationToken);
        }
        return true;
    }

    /// <summary>Takes the task id at once if free (the result retry, a cancel of a task not handled here), which any delivery of the task may then skip.</summary>
    public bool TryEnter(Guid taskId)
    {
        var mine = new Entry(int.MaxValue);
        if (_handling.TryAdd(taskId, mine))
            return true;
        mine.Cancel.Dispose();
        return false;
    }

    /// <summary>Signalled when the orchestrator cancels the task being handled (none when it is not handled here).</summary>
    public CancellationToken CancellationOf(Guid taskId) => _handling.TryGetValue(taskId, out var entry) ? entry.Cancel.Token : CancellationToken.None;

    /// <summary>Signals the cancellation of the task if it is handled here (true); its handler answers the cancel.</summary>
    public bool TryCancel(Guid taskId)
    {
        if (!_handling.TryGetValue(taskId, out var entry))
            return false;
        try
        {
            entry.Cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Left meanwhile: its handler has stored its outcome and sent it.
        }
        return true;
    }

    public void Leave(Guid taskId)
    {
        if (_handling.TryRemove(taskId, out var left))
        {
            left.Done.TrySetResult();
            left.Cancel.Dispose();
        }
    }

    private sealed class Entry(int attempt)
    {
        public int Attempt { get; } = attempt;
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationTokenSource Cancel { get; } = new();
    }
}
