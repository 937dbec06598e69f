namespace OpenHvx.Tests.Support;

/// <summary>One DevHost for all tests of a fixture: the real orchestrator, saga and simulated agent, state in a temp folder.</summary>
public abstract class DevHostFixture
{
    private TempFolder _folder = null!;

    protected TestDevHost DevHost { get; private set; } = null!;
    protected HttpClient Client { get; private set; } = null!;

    /// <summary>Settings on top of DevHost's appsettings for this fixture.</summary>
    protected virtual IDictionary<string, string?>? Settings => null;

    [OneTimeSetUp]
    public async Task StartDevHostAsync()
    {
        _folder = new TempFolder(GetType().Name);
        DevHost = new TestDevHost(_folder.Path, Settings);
        Client = await DevHost.StartAsync();
    }

    [OneTimeTearDown]
    public async Task StopDevHostAsync()
    {
        Client?.Dispose();
        if (DevHost is not null)
            await DevHost.DisposeAsync();
        _folder?.Dispose();
    }
}
