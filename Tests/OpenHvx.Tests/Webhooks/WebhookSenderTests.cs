using System.Net;
using Microsoft.Extensions.Options;
using OpenHvx.Orchestrator.Events;
using OpenHvx.Orchestrator.Webhooks;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Webhooks;

/// <summary>
/// The sender against a real listener: it connects only where the address policy allows, checked on the address it connects to
/// (so a name that resolves to loopback at delivery time is refused, however the webhook was created), follows no redirect, and
/// gives up at its timeout.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class WebhookSenderTests
{
    private static readonly TaskEvent Event = new(7, Guid.NewGuid(), "t1", "vm.create", "Dispatching", "AwaitingResult", "sent", DateTimeOffset.UtcNow, null);

    private WebhookReceiver _receiver = null!;

    [OneTimeSetUp]
    public async Task StartReceiverAsync() => _receiver = await WebhookReceiver.StartAsync();

    [OneTimeTearDown]
    public async Task StopReceiverAsync() => await _receiver.DisposeAsync();

    private static WebhookSender Sender(string[] allowed, TimeSpan? timeout = null)
    {
        var options = Options.Create(new WebhookOptions { AllowedNetworks = [.. allowed], Timeout = timeout ?? TimeSpan.FromSeconds(10) });
        return new WebhookSender(new WebhookAddressPolicy(allowed), options, TimeProvider.System);
    }

    private Webhook To(string url) => new("wh_test", "t1", url, ["*"], WebhookSecret.Generate(), DateTimeOffset.UtcNow, new WebhookDelivery(Webhook.Active, 0));

    [Test]
    public async Task A_name_that_resolves_to_loopback_at_delivery_is_refused_without_a_request()
    {
        using var sender = Sender([]);
        var url = _receiver.Url.Replace("127.0.0.1", "localhost") + "/rebound";

        var attempt = await sender.SendAsync(To(url), Event, CancellationToken.None);

        Assert.That(attempt.Delivered, Is.False);
        Assert.That(attempt.Error, Does.StartWith("address refused: localhost resolves to").And.Contain("loopback"));
        Assert.That(_receiver.To("/rebound"), Is.Empty);
    }

    [Test]
    public async Task An_allowed_network_is_delivered_to_with_a_valid_signature()
    {
        using var sender = Sender(["127.0.0.0/8", "::1/128"]);
        var webhook = To(_receiver.Url.Replace("127.0.0.1", "localhost") + "/allowed");

        var attempt = await sender.SendAsync(webhook, Event, CancellationToken.None);

        Assert.That(attempt, Is.EqualTo(WebhookAttempt.Success));
        var received = _receiver.To("/allowed").Single();
        Assert.That(received.Id, Is.EqualTo("evt_7"));
        Assert.That(WebhookApi.SignatureIsValid(webhook.Secret, received), Is.True);
        Assert.That(received.Type, Is.EqualTo("vm.create.sent"));
        Assert.That(received.Data.GetProperty("state").GetString(), Is.EqualTo("AwaitingResult"));
    }

    [Test]
    public async Task A_redirect_is_a_failure_and_is_not_followed()
    {
        using var sender = Sender(["127.0.0.0/8", "::1/128"]);
        _receiver.Answer = (path, _) => path == "/moved" ? 307 : 200;
        try
        {
            var attempt = await sender.SendAsync(To(_receiver.Url + "/moved"), Event, CancellationToken.None);

            Assert.That(attempt.Error, Is.EqualTo("HTTP 307 Temporary Redirect (redirects are not followed)"));
            Assert.That(_receiver.To("/moved"), Has.Count.EqualTo(1));
        }
        finally
        {
            _receiver.Answer = (_, _) => 200;
        }
    }

    [Test]
    public async Task A_receiver_that_does_not_answer_in_time_is_a_failure()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var sender = Sender(["127.0.0.0/8"], TimeSpan.FromMilliseconds(300));

        var attempt = await sender.SendAsync(To($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/silent"), Event, CancellationToken.None);

        Assert.That(attempt.Error, Is.EqualTo("no answer within 0.3 s"));
    }

    [TestCase("127.0.0.1", "loopback")]
    [TestCase("169.254.169.254", "link-local (cloud metadata)")]
    [TestCase("168.63.129.16", "cloud metadata")]
    [TestCase("::ffff:10.1.2.3", "private")]
    [TestCase("64:ff9b::7f00:1", "loopback")]
    [TestCase("2002:c0a8:0101::1", "private")]
    [TestCase("fd12:3456::1", "private (unique local)")]
    [TestCase("ff02::1", "multicast")]
    [TestCase("203.0.113.10", null)]
    [TestCase("2001:db8::1", null)]
    public void The_address_policy_refuses_internal_addresses_and_names_their_kind(string address, string? kind)
        => Assert.That(new WebhookAddressPolicy([]).RefusalOf(IPAddress.Parse(address)), Is.EqualTo(kind));

    [Test]
    public void An_allowed_network_lifts_the_refusal_for_that_network_only()
    {
        var policy = new WebhookAddressPolicy(["10.20.0.0/16"]);
        Assert.That(policy.RefusalOf(IPAddress.Parse("10.20.3.4")), Is.Null);
        Assert.That(policy.RefusalOf(IPAddress.Parse("::ffff:10.20.3.4")), Is.Null);
        Assert.That(policy.RefusalOf(IPAddress.Parse("10.21.0.1")), Is.EqualTo("private"));
        Assert.Throws<OptionsValidationException>(() => _ = new WebhookAddressPolicy(["10.20.0.0/33"]));
    }
}
