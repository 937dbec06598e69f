
namespace OpenHvx.Orchestrator.Tasks;

public sealed record IdempotencyRecord(string BodyHash, Guid TaskId, int? StatusCode, string? Response);

public interface IIdempotencyStore
{
    /// <summary>Claims <paramref name="key"/> for a new task; when it is already claimed, returns the first claim.</summary>
    Task<IdempotencyRecord?> TryClaimAsync(string tenantId, string key, string bodyHash, Guid taskId, CancellationToken cancellationToken = default);
    Task SaveAnswerAsync(string tenantId, string key, int statusCode, string response, CancellationToken cancellationToken = default);
}
