using OpenHvx.Orchestrator.Images;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Persistence;

/// <summary>The contract of <see cref="IImageStore"/>: the catalog, one default at a time, <c>&lt;name&gt;.latest</c>.</summary>
[TestFixture(StoreContract.Sqlite)]
[TestFixture(StoreContract.Mongo)]
[Category("Integration")]
public sealed class ImageStoreContractTests(string family) : StoreContract(family)
{
    private Image NewImage(string id, string name = "ubuntu", string version = "22.04", bool isDefault = false, int minutesAgo = 0, string? os = "linux")
        => new(id, name, version, id + ".vhdx", 2, 20, os, isDefault, Clock.GetUtcNow().AddMinutes(-minutesAgo));

    private async Task<string[]> DefaultsAsync() => (await _stores.Images.ListAsync(None)).Where(i => i.IsDefault).Select(i => i.ImageId).ToArray();

    [Test]
    public async Task An_image_is_added_once_and_a_second_add_of_its_id_changes_nothing()
    {
        var image = NewImage("ubuntu-22", isDefault: true);
        var plain = NewImage("debian-12", "debian", "12", os: null);
        Assert.That(await _stores.Images.TryAddAsync(image, None), Is.True);
        Assert.That(await _stores.Images.TryAddAsync(plain, None), Is.True);

        Assert.That(await _stores.Images.TryAddAsync(plain with { Name = "other", IsDefault = true }, None), Is.False);

        Assert.That(await _stores.Images.ResolveAsync("debian-12", None), Is.EqualTo(plain), "unchanged, os null kept");
        Assert.That(await _stores.Images.GetDefaultAsync(None), Is.EqualTo(image), "the refused add took no default flag");
        Assert.That(await DefaultsAsync(), Is.EqualTo(new[] { "ubuntu-22" }));
    }

    [Test]
    public async Task Storing_a_default_image_clears_the_flag_of_every_other_one()
    {
        await _stores.Images.TryAddAsync(NewImage("a", "alpha", isDefault: true), None);
        await _stores.Images.TryAddAsync(NewImage("b", "beta", isDefault: true), None);
        Assert.That(await DefaultsAsync(), Is.EqualTo(new[] { "b" }), "added as default");
        Assert.That((await _stores.Images.GetDefaultAsync(None))?.ImageId, Is.EqualTo("b"));

        await _stores.Images.ReplaceAsync(NewImage("a", "alpha", isDefault: true), None);
        Assert.That(await DefaultsAsync(), Is.EqualTo(new[] { "a" }), "replaced as default");

        await _stores.Images.TryAddAsync(NewImage("c", "gamma"), None);
        await _stores.Images.ReplaceAsync(NewImage("b", "beta"), None);
        Assert.That(await DefaultsAsync(), Is.EqualTo(new[] { "a" }), "images stored without the flag leave it where it is");
        Assert.That((await _stores.Images.GetDefaultAsync(None))?.ImageId, Is.EqualTo("a"));
    }

    [Test]
    public async Task There_is_no_default_until_an_image_is_stored_as_one()
    {
        await _stores.Images.TryAddAsync(NewImage("a"), None);

        Assert.That(await _stores.Images.GetDefaultAsync(None), Is.Null);
    }

    [Test]
    public async Task Latest_resolves_to_the_newest_version_of_a_name_and_an_id_to_its_image()
    {
        var newest = NewImage("ubuntu-24", version: "24.04", minutesAgo: 1);
        await _stores.Images.TryAddAsync(NewImage("ubuntu-22", version: "22.04", minutesAgo: 10), None);
        await _stores.Images.TryAddAsync(newest, None);
        await _stores.Images.TryAddAsync(NewImage("ubuntu-20", version: "20.04", minutesAgo: 100), None);
        await _stores.Images.TryAddAsync(NewImage("debian-12", "debian", "12"), None);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await _stores.Images.ResolveAsync("ubuntu.latest", None), Is.EqualTo(newest));
            Assert.That((await _stores.Images.ResolveAsync("debian.latest", None))?.ImageId, Is.EqualTo("debian-12"));
            Assert.That((await _stores.Images.ResolveAsync("ubuntu-20", None))?.Version, Is.EqualTo("20.04"));
            Assert.That(await _stores.Images.ResolveAsync("windows.latest", None), Is.Null);
            Assert.That(await _stores.Images.ResolveAsync("ubuntu-18", None), Is.Null);
            Assert.That(await _stores.Images.ResolveAsync("ubuntu", None), Is.Null, "a bare name is no id");
        }
    }

    [Test]
    public async Task Replace_is_true_when_it_replaced_an_image_and_false_when_it_stored_a_new_one()
    {
        var image = NewImage("ubuntu-22");
        var changed = image with { File = "ubuntu-22-v2.vhdx", Generation = 1, MinStorageGB = 40, Version = "22.04.1" };

        Assert.That(await _stores.Images.ReplaceAsync(image, None), Is.False);
        Assert.That(await _stores.Images.ResolveAsync("ubuntu-22", None), Is.EqualTo(image));
        Assert.That(await _stores.Images.ReplaceAsync(changed, None), Is.True);
        Assert.That(await _stores.Images.ResolveAsync("ubuntu-22", None), Is.EqualTo(changed));
        Assert.That(await _stores.Images.ListAsync(None), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Delete_removes_an_image_once()
    {
        await _stores.Images.TryAddAsync(NewImage("a", isDefault: true), None);
        await _stores.Images.TryAddAsync(NewImage("b"), None);

        Assert.That(await _stores.Images.DeleteAsync("a", None), Is.True);
        Assert.That(await _stores.Images.DeleteAsync("a", None), Is.False);

        Assert.That(await _stores.Images.ResolveAsync("a", None), Is.Null);
        Assert.That(await _stores.Images.GetDefaultAsync(None), Is.Null, "the deleted default is no longer the default");
        Assert.That((await _stores.Images.ListAsync(None)).Select(i => i.ImageId), Is.EqualTo(new[] { "b" }));
    }

    [Test]
    public async Task List_orders_by_name_then_newest_first()
    {
        await _stores.Images.TryAddAsync(NewImage("u-old", "ubuntu", minutesAgo: 10), None);
        await _stores.Images.TryAddAsync(NewImage("d", "debian", minutesAgo: 50), None);
        await _stores.Images.TryAddAsync(NewImage("u-new", "ubuntu", minutesAgo: 1), None);
        await _stores.Images.TryAddAsync(NewImage("a", "alpine", minutesAgo: 5), None);

        Assert.That((await _stores.Images.ListAsync(None)).Select(i => i.ImageId), Is.EqualTo(new[] { "a", "d", "u-new", "u-old" }));
    }
}
