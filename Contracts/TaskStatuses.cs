namespace OpenHvx.Contracts;

/// <summary>Status values exposed to clients (design/api.md).</summary>
public static class TaskStatuses
{
    public const string Pending = "pending";
    public const string Sent = "sent";
    public const string Running = "running";
    public const string Succeeded = "SUCCESS";
    public const string Failed = "FAILED";
    /// <summary>Asked to stop (<c>POST .../cancel</c>): the agent has been told, its answer decides between CANCELED and SUCCESS.</summary>
    public const string Canceling = "canceling";
    /// <summary>Canceled before it ran, or stopped by its agent with what it built removed; nothing it held is kept.</summary>
    public const string Canceled = "CANCELED";

    /// <summary>Every status, in the order a task may pass through them.</summary>
    public static readonly IReadOnlyList<string> All = [Pending, Sent, Running, Canceling, Succeeded, Failed, Canceled];

    public static bool IsFinal(string status) => status is Succeeded or Failed or Canceled;
}
