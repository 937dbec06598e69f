namespace OpenHvx.HyperVAgent.PowerShell;

/// <summary>Which runspaces a script runs in.</summary>
public enum RunspaceLane
{
    /// <summary>The pool shared by tasks, clean-ups and the inventory (MaxConcurrency + 1 runspaces).</summary>
    Work,

    /// <summary>The heartbeat's own runspace, which nothing else waits for or holds.</summary>
    Heartbeat,
}
