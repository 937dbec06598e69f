using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using OpenHvx.Tests.Support;
using static Microsoft.Playwright.Assertions;

namespace OpenHvx.Tests.Console;

/// <summary>
/// Every page of the console checked by axe-core (pinned in Tests/clients) against WCAG 2 A and AA (labels, names, contrast, landmarks),
/// and the keyboard path through the shell.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Self)]
public sealed class ConsoleAccessibilityTests : ConsoleFixture
{
    /// <summary>axe's serious and critical violations on the page as it is, one line each.</summary>
    private static async Task<IReadOnlyList<string>> ViolationsAsync(IPage page)
    {
        if (await page.EvaluateAsync<bool>("() => typeof axe === 'undefined'"))
            await page.AddScriptTagAsync(new() { Path = await NodeClients.PackageFileAsync("axe-core/axe.min.js") });
        var result = await page.EvaluateAsync<JsonElement>("""
            async () => (await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }))
              .violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)
            """);
        return [.. result.EnumerateArray().Select(v => v.GetString()!)];
    }

    [Test]
    public async Task Every_admin_page_passes_axe_wcag_a_and_aa_checks()
    {
        using var admin = await Tokens.AdminClientAsync(DevHost.Url);
        var created = await admin.PostAsJsonAsync("/api/v1/admin/tasks", new { tenantId = "test1", action = "vm.create", data = new { name = "a11y1", cpu = 1, ram = "1GB" } });
        Assert.That(created.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.Accepted), await created.Content.ReadAsStringAsync());
        var taskId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("taskId").GetString();

        var page = await SignInAsAdminAsync(bypassCsp: true);
        var found = new List<string>();
        foreach (var route in new[] { "#/tasks", $"#/tasks/{taskId}", "#/agents", "#/tenants", "#/tenants/test1", "#/create" })
        {
            await GoToAsync(page, route);
            found.AddRange((await ViolationsAsync(page)).Select(v => $"{route}: {v}"));
        }
        Assert.That(found, Is.Empty, string.Join("\n", found));
    }

    [Test]
    public async Task Every_tenant_page_passes_axe_wcag_a_and_aa_checks()
    {
        using var admin = await Tokens.AdminClientAsync(DevHost.Url);
        var user = await admin.PostAsJsonAsync("/api/v1/admin/users", new { username = "a11y-tenant", password = "a11y-tenant-password-1", tenantId = "test1", roles = new[] { "tenant-user-rw" } });
        Assert.That(user.IsSuccessStatusCode, Is.True, await user.Content.ReadAsStringAsync());

        var page = await SignInAsync("a11y-tenant", "a11y-tenant-password-1", bypassCsp: true);
        var found = new List<string>();
        foreach (var route in new[] { "#/tasks", "#/quota", "#/create" })
        {
            await GoToAsync(page, route);
            found.AddRange((await ViolationsAsync(page)).Select(v => $"{route}: {v}"));
        }
        Assert.That(found, Is.Empty, string.Join("\n", found));
    }

    [Test]
    public async Task The_keyboard_reaches_the_skip_link_then_each_section_and_a_section_opens_with_enter()
    {
        var page = await SignInAsAdminAsync();
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Skip to content" })).ToBeFocusedAsync();
        var nav = page.GetByRole(AriaRole.Navigation, new() { Name = "Main" });
        foreach (var section in new[] { "Tasks", "Agents", "Tenants", "Create a VM" })
        {
            await page.Keyboard.PressAsync("Tab");
            await Expect(nav.GetByRole(AriaRole.Link, new() { Name = section })).ToBeFocusedAsync();
        }
        await page.Keyboard.PressAsync("Shift+Tab");
        await page.Keyboard.PressAsync("Shift+Tab");
        await Expect(nav.GetByRole(AriaRole.Link, new() { Name = "Agents" })).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("#/agents$"));
        await Expect(nav.GetByRole(AriaRole.Link, new() { Name = "Agents" })).ToHaveAttributeAsync("aria-current", "page");
        await Expect(page.Locator("#view")).ToBeFocusedAsync();
    }
}
