using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Persistence;

/// <summary>The contract of <see cref="IIdempotencyStore"/>: the first claim of a key wins, and its answer is saved once.</summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class IdempotencyStoreContractTests(string family) : StoreContract(family)
{
    [Test]
    public async Task The_first_claim_of_a_key_wins_and_later_claims_get_it_back()
    {
        var first = Guid.NewGuid();

        Assert.That(await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash-1", first, None), Is.Null, "claimed");
        var again = await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash-2", Guid.NewGuid(), None);
        var thrice = await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash-1", Guid.NewGuid(), None);

        Assert.That(again, Is.EqualTo(new IdempotencyRecord("hash-1", first, null, null)), "the first claim, its body hash, no answer yet");
        Assert.That(thrice, Is.EqualTo(again));
    }

    [Test]
    public async Task Keys_are_per_tenant()
    {
        var acme = Guid.NewGuid();
        var other = Guid.NewGuid();

        Assert.That(await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash", acme, None), Is.Null);
        Assert.That(await _stores.Idempotency.TryClaimAsync("acme-2", "key-1", "hash", other, None), Is.Null, "the same key in another tenant");
        Assert.That((await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash", Guid.NewGuid(), None))?.TaskId, Is.EqualTo(acme));
        Assert.That((await _stores.Idempotency.TryClaimAsync("acme-2", "key-1", "hash", Guid.NewGuid(), None))?.TaskId, Is.EqualTo(other));
    }

    [Test]
    public async Task The_answer_is_saved_once_and_returned_with_the_claim()
    {
        var taskId = Guid.NewGuid();
        await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash-1", taskId, None);
        await _stores.Idempotency.TryClaimAsync("acme", "key-2", "hash-2", Guid.NewGuid(), None);

        await _stores.Idempotency.SaveAnswerAsync("acme", "key-1", taskId, 202, """{"taskId":"first"}""", None);
        await _stores.Idempotency.SaveAnswerAsync("acme", "key-1", taskId, 500, """{"error":"second"}""", None);

        Assert.That(await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash-x", Guid.NewGuid(), None),
            Is.EqualTo(new IdempotencyRecord("hash-1", taskId, 202, """{"taskId":"first"}""")));
        Assert.That((await _stores.Idempotency.TryClaimAsync("acme", "key-2", "hash-x", Guid.NewGuid(), None))?.StatusCode, Is.Null, "another key has no answer");
    }

    [Test]
    public async Task Saving_an_answer_for_an_unclaimed_key_claims_nothing()
    {
        await _stores.Idempotency.SaveAnswerAsync("acme", "key-1", Guid.NewGuid(), 202, "{}", None);

        Assert.That(await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash", Guid.NewGuid(), None), Is.Null);
    }

    [Test]
    public async Task An_answer_is_kept_only_for_the_claim_of_its_task()
    {
        var current = Guid.NewGuid();
        await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash", current, None);

        // A request whose claim expired and was taken by another meanwhile answers late.
        await _stores.Idempotency.SaveAnswerAsync("acme", "key-1", Guid.NewGuid(), 202, """{"taskId":"stale"}""", None);

        Assert.That(await _stores.Idempotency.TryClaimAsync("acme", "key-1", "hash", Guid.NewGuid(), None),
            Is.EqualTo(new IdempotencyRecord("hash", current, null, null)), "the current claim has no answer yet");
    }
}
