namespace OpenHvx.HyperVAgent.Tasks;

/// <summary>One task at a time per VM: tasks on different VMs run in parallel, tasks on one VM queue up.</summary>
public sealed class VmLocks
{
    private readonly Dictionary<string, (SemaphoreSlim Gate, int Users)> _locks = new(StringComparer.OrdinalIgnoreCase);

    public async Task<IDisposable> AcquireAsync(string key, CancellationToken cancellationToken)
    {
        SemaphoreSlim gate;
        lock (_locks)
        {
            var entry = _locks.TryGetValue(key, out var existing) ? existing : (Gate: new SemaphoreSlim(1, 1), Users: 0);
            _locks[key] = (entry.Gate, entry.Users + 1);
            gate = entry.Gate;
        }
        try
        {
            await gate.WaitAsync(cancellationToken);
        }
        catch
        {
            Leave(key, gate, release: false);
            throw;
        }
        return new Lease(this, key, gate);
    }

    public int Count
    {
        get
        {
            lock (_locks)
                return _locks.Count;
        }
    }

    private void Leave(string key, SemaphoreSlim gate, bool release)
    {
        if (release)
            gate.Release();
        lock (_locks)
        {
            var entry = _locks[key];
            if (entry.Users == 1)
            {
                _locks.Remove(key);
                gate.Dispose();
            }
            else
            {
                _locks[key] = (entry.Gate, entry.Users - 1);
            }
        }
    }

    private sealed class Lease(VmLocks owner, string key, SemaphoreSlim gate) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
                owner.Leave(key, gate, release: true);
        }
    }
}
