using System.Text;
using OpenHvx.Orchestrator.DeadLetters;

namespace OpenHvx.Tests.Persistence;

/// <summary>The contract of <see cref="IDeadLetterStore"/>: an entry is kept whole and once, listed newest first (by task), replayed once.</summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class DeadLetterStoreContractTests(string family) : StoreContract(family)
{
    private DeadLetter Letter(Guid? taskId, string body = "{\"ok\":true}", string queue = "orchestrator.results_error") => new(
        Guid.NewGuid(), queue, taskId, taskId is null ? null : $"task.{taskId}", "application/json", Encoding.UTF8.GetBytes(body),
        "agent.agent-a", "No task: set aside", "OpenHvx.Orchestrator.Messaging.RejectedWireMessageException", Clock.GetUtcNow());

    private static void AssertSame(DeadLetter? actual, DeadLetter expected)
    {
        Assert.That(actual, Is.Not.Null);
        Assert.That(actual! with { Body = [] }, Is.EqualTo(expected with { Body = [] }));
        Assert.That(actual.Body, Is.EqualTo(expected.Body));
    }

    [Test]
    public async Task An_entry_is_stored_whole_and_a_second_copy_with_its_id_is_not_added()
    {
        var letter = Letter(Guid.NewGuid()) with { Body = [0xff, 0x00, 0x7b, 0xc3] };

        Assert.That(await _stores.DeadLetters.TryAddAsync(letter, None), Is.True);
        Assert.That(await _stores.DeadLetters.TryAddAsync(letter with { Reason = "again" }, None), Is.False, "the same copy delivered twice");

        AssertSame(await _stores.DeadLetters.GetAsync(letter.Id, None), letter);
        Assert.That(await _stores.DeadLetters.ListAsync(null, 10, 0, None), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task An_entry_without_task_routing_key_or_sender_keeps_them_empty()
    {
        var letter = Letter(null) with { SenderUser = null, Reason = null, ExceptionType = null, ContentType = null };

        await _stores.DeadLetters.TryAddAsync(letter, None);

        AssertSame(await _stores.DeadLetters.GetAsync(letter.Id, None), letter);
        Assert.That(await _stores.DeadLetters.GetAsync(Guid.NewGuid(), None), Is.Null, "an unknown id");
    }

    [Test]
    public async Task Entries_are_listed_newest_first_and_filtered_by_task()
    {
        var task = Guid.NewGuid();
        var first = Letter(task);
        Clock.Advance(TimeSpan.FromSeconds(1));
        var other = Letter(Guid.NewGuid(), queue: "orchestrator.tasks_error");
        Clock.Advance(TimeSpan.FromSeconds(1));
        var second = Letter(task);
        foreach (var letter in new[] { first, other, second })
            await _stores.DeadLetters.TryAddAsync(letter, None);

        Assert.That((await _stores.DeadLetters.ListAsync(null, 10, 0, None)).Select(l => l.Id), Is.EqualTo(new[] { second.Id, other.Id, first.Id }));
        Assert.That((await _stores.DeadLetters.ListAsync(task, 10, 0, None)).Select(l => l.Id), Is.EqualTo(new[] { second.Id, first.Id }));
        Assert.That((await _stores.DeadLetters.ListAsync(null, 1, 1, None)).Select(l => l.Id), Is.EqualTo(new[] { other.Id }), "a page");
        Assert.That(await _stores.DeadLetters.ListAsync(Guid.NewGuid(), 10, 0, None), Is.Empty, "a task without any");
    }

    [Test]
    public async Task An_entry_is_marked_replayed_once()
    {
        var letter = Letter(Guid.NewGuid());
        await _stores.DeadLetters.TryAddAsync(letter, None);
        var at = Clock.GetUtcNow().AddMinutes(1);

        Assert.That(await _stores.DeadLetters.MarkReplayedAsync(letter.Id, at, None), Is.True);
        Assert.That(await _stores.DeadLetters.MarkReplayedAsync(letter.Id, at.AddMinutes(1), None), Is.False, "already replayed");
        Assert.That(await _stores.DeadLetters.MarkReplayedAsync(Guid.NewGuid(), at, None), Is.False, "unknown");

        Assert.That((await _stores.DeadLetters.GetAsync(letter.Id, None))!.ReplayedAt, Is.EqualTo(at), "the first replay's time");
    }
}
