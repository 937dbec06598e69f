
namespace OpenHvx.Orchestrator.Tasks;

public sealed record IdempotencyRecord(string BodyHash, Guid TaskId, int? StatusCode, string? Response);

public interface IIdempotencyStore
{
    /// <summary>Claims <paramref name="key"/> for a new task; when it is already claimed, returns the first claim.</summary>
    Task<IdempotencyRecord?> TryClaimAsync(string tenantId, string key, string bodyHash, Guid taskId, CancellationToken cancellationToken = default);
    /// <summary>Keeps the answer of the claim of <paramref name="key"/> for <paramref name="taskId"/>, once; nothing when the key now names another task (it expired and was claimed again).</summary>
    Task SaveAnswerAsync(string tenantId, string key, Guid taskId, int statusCode, string response, CancellationToken cancellationToken = default);
}
