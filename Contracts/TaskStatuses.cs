namespace OpenHvx.Contracts;

/// <summary>Status values exposed to clients (design/api.md).</summary>
public static class TaskStatuses
{
    public const string Pending = "pending";
    public const string Sent = "sent";
    public const string Running = "running";
    public const string Succeeded = "SUCCESS";
    public const string Failed = "FAILED";
}
