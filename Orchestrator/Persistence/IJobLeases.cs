namespace OpenHvx.Orchestrator.Persistence;

/// <summary>
/// Time-limited leases in the shared store, so that several orchestrators on one database run each background job once:
/// the holder renews its lease while it works; when it dies, another takes the job once the lease has lapsed.
/// </summary>
public interface IJobLeases
{
    /// <summary>
    /// Takes the lease of <paramref name="job"/> for <paramref name="holder"/> until <paramref name="now"/> plus
    /// <paramref name="duration"/>, or renews it when <paramref name="holder"/> has it: false while another holder's has not lapsed.
    /// </summary>
    Task<bool> TryAcquireAsync(string job, string holder, DateTimeOffset now, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Ends <paramref name="holder"/>'s lease of <paramref name="job"/> (a stopping process), so that another takes it at once.</summary>
    Task ReleaseAsync(string job, string holder, CancellationToken cancellationToken);

    /// <summary>The holders of unlapsed leases of jobs whose name starts with <paramref name="prefix"/>.</summary>
    Task<IReadOnlyList<JobLease>> ListAsync(string prefix, DateTimeOffset now, CancellationToken cancellationToken);
}

public sealed record JobLease(string Job, string Holder, DateTimeOffset ExpiresAt);
