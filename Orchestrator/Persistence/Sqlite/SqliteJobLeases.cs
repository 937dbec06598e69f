namespace OpenHvx.Orchestrator.Persistence.Sqlite;

public sealed class SqliteJobLeases(SqliteDatabase database) : IJobLeases
{
    public async Task<bool> TryAcquireAsync(string job, string holder, DateTimeOffset now, TimeSpan duration, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command(
            """
            INSERT INTO job_leases (job, holder, expires_at) VALUES ($job, $holder, $expires)
            ON CONFLICT(job) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
            WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= $now
            """).With("$job", job).With("$holder", holder).With("$expires", (now + duration).ToUnixMs()).With("$now", now.ToUnixMs());
        var taken = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        await lease.CommitAsync(cancellationToken);
        return taken;
    }

    public async Task ReleaseAsync(string job, string holder, CancellationToken cancellationToken)
    {
        await using var lease = await database.WriteAsync(cancellationToken);
        await using var command = lease.Command("DELETE FROM job_leases WHERE job = $job AND holder = $holder").With("$job", job).With("$holder", holder);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await lease.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<JobLease>> ListAsync(string prefix, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var lease = await database.LeaseAsync(cancellationToken);
        await using var command = lease.Command("SELECT job, holder, expires_at FROM job_leases WHERE substr(job, 1, length($prefix)) = $prefix AND expires_at > $now ORDER BY job")
            .With("$prefix", prefix).With("$now", now.ToUnixMs());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var leases = new List<JobLease>();
        while (await reader.ReadAsync(cancellationToken))
            leases.Add(new JobLease(reader.GetString(0), reader.GetString(1), SqliteExtensions.FromUnixMs(reader.GetInt64(2))));
        return leases;
    }
}
