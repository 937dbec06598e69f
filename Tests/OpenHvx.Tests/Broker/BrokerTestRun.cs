using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Broker;

/// <summary>After the last broker test: the test brokers' leftovers (a spare virtual host, the agents' broker users) are deleted.</summary>
[SetUpFixture]
public sealed class BrokerTestRun
{
    [OneTimeTearDown]
    public Task CleanUpAsync() => TestBroker.CleanUpAsync();
}
