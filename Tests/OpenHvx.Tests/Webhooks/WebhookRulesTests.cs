using OpenHvx.Orchestrator.Webhooks;

namespace OpenHvx.Tests.Webhooks;

/// <summary>Event patterns, secrets and the backoff: the rules a webhook is created and delivered by.</summary>
[TestFixture]
[Category("Unit")]
public sealed class WebhookRulesTests
{
    private static readonly string[] Actions = ["vm.create", "vm.delete", "vm.power", "inventory.refresh"];

    [TestCase("*", "vm.create", "SUCCESS", true)]
    [TestCase("*.FAILED", "vm.power", "FAILED", true)]
    [TestCase("*.FAILED", "vm.power", "SUCCESS", false)]
    [TestCase("vm.*", "vm.delete", "running", true)]
    [TestCase("vm.*", "inventory.refresh", "SUCCESS", false)]
    [TestCase("vm.create.*", "vm.create", "pending", true)]
    [TestCase("vm.create.*", "vm.delete", "pending", false)]
    [TestCase("vm.FAILED", "vm.create", "FAILED", true)]
    [TestCase("vm.create.SUCCESS", "vm.create", "SUCCESS", true)]
    [TestCase("vm.create.SUCCESS", "vm.create", "FAILED", false)]
    [TestCase("vm.cr.*", "vm.create", "SUCCESS", false)]
    public void A_pattern_matches_by_whole_action_parts_and_exact_status(string pattern, string action, string status, bool matches)
        => Assert.That(WebhookEventFilter.Of([pattern]).Matches(action, status), Is.EqualTo(matches));

    [TestCase("*", true)]
    [TestCase("*.*", true)]
    [TestCase("vm.*", true)]
    [TestCase("inventory.refresh.SUCCESS", true)]
    [TestCase("*.CANCELED", true)]
    [TestCase("vm.cr.*", false)]
    [TestCase("vm.create.success", false)]
    [TestCase("vm", false)]
    [TestCase(".SUCCESS", false)]
    [TestCase("vm.create.", false)]
    [TestCase("", false)]
    public void Only_known_actions_families_and_statuses_are_accepted(string pattern, bool valid)
        => Assert.That(WebhookEventFilter.Check(pattern, Actions) is null, Is.EqualTo(valid));

    [Test]
    public void A_secret_is_whsec_and_base64_of_24_to_64_bytes_and_signs_as_standard_webhooks_says()
    {
        Assert.That(WebhookSecret.IsValid(WebhookSecret.Generate()), Is.True);
        Assert.That(WebhookSecret.IsValid("whsec_" + Convert.ToBase64String(new byte[23])), Is.False);
        Assert.That(WebhookSecret.IsValid("whsec_" + Convert.ToBase64String(new byte[65])), Is.False);
        Assert.That(WebhookSecret.IsValid(Convert.ToBase64String(new byte[32])), Is.False, "no prefix");
        Assert.That(WebhookSecret.IsValid("whsec_!!!"), Is.False);
        // The example of the Standard Webhooks specification.
        Assert.That(WebhookSecret.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "{\"test\": 2432232314}"),
            Is.EqualTo("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    }

    [Test]
    public void The_backoff_doubles_from_the_first_interval_with_jitter_up_to_the_maximum()
    {
        var settings = new WebhookOptions { FirstRetryInterval = TimeSpan.FromSeconds(10), MaxRetryInterval = TimeSpan.FromSeconds(60) };
        for (var i = 0; i < 20; i++)
        {
            Assert.That(WebhookDispatcher.Backoff(1, settings), Is.InRange(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10)));
            Assert.That(WebhookDispatcher.Backoff(3, settings), Is.InRange(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(40)));
            Assert.That(WebhookDispatcher.Backoff(50, settings), Is.InRange(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60)));
        }
    }
}
