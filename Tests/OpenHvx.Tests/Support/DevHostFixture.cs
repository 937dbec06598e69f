namespace OpenHvx.Tests.Support;

/// <summary>One DevHost for all tests of a fixture: the real orchestrator, saga and simulated agent, state in a temp folder.</summary>
public abstract class DevHostFixture
{
    private TempFolder _folder = null!;

    protected DevHostFactory Factory { get; private set; } = null!;
    protected HttpClient Client { get; private set; } = null!;

    /// <summary>Settings on top of DevHost's appsettings for this fixture.</summary>
    protected virtual IDictionary<string, string?>? Settings => null;

    [OneTimeSetUp]
    public async Task StartDevHostAsync()
    {
        _folder = new TempFolder(GetType().Name);
        Factory = new DevHostFactory(_folder.Path, Settings);
        Client = await Factory.StartAsync();
    }

    [OneTimeTearDown]
    public async Task StopDevHostAsync()
    {
        Client?.Dispose();
        if (Factory is not null)
            await Factory.DisposeAsync();
        _folder?.Dispose();
    }
}
