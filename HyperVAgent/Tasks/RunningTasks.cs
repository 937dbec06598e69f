using System.Collections.Concurrent;

namespace OpenHvx.HyperVAgent.Tasks;

/// <summary>
/// Task ids this agent is handling now (waiting for their VM or running): a second delivery of one
/// (a re-sent dispatch) is dropped, not taken for a crash. One per agent (a singleton), so that a
/// second agent host in the same process (tests) has its own.
/// </summary>
public sealed class RunningTasks
{
    private readonly ConcurrentDictionary<Guid, byte> _ids = new();

    /// <summary>False when the task id is already being handled here.</summary>
    public bool TryEnter(Guid taskId) => _ids.TryAdd(taskId, 0);

    public void Leave(Guid taskId) => _ids.TryRemove(taskId, out _);
}
