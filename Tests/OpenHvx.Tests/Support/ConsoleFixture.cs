using Microsoft.Playwright;

namespace OpenHvx.Tests.Support;

/// <summary>
/// A real headless Chromium (Debian's <c>chromium</c>, driven by Playwright; no downloaded browser) against one DevHost per fixture.
/// Each test's pages are saved as screenshots under the test results (<c>TestResults/screenshots/</c>, and attached to the test).
/// Browser fixtures are marked parallelizable: each has its own DevHost and browser, and they mostly wait on them, so two run side
/// by side (NUnit never runs them beside the fixtures that are not marked, the broker tests among them).
/// </summary>
[Category("Browser")]
public abstract class ConsoleFixture : DevHostFixture
{
    /// <summary>Debian's chromium; OPENHVX_CHROMIUM names another build.</summary>
    public static string? ChromiumPath
        => Environment.GetEnvironmentVariable("OPENHVX_CHROMIUM") is { Length: > 0 } path ? path : File.Exists("/usr/bin/chromium") ? "/usr/bin/chromium" : null;

    public static string ScreenshotFolder => Path.Combine(ServiceProcess.RepositoryRoot, "TestResults", "screenshots");

    private IPlaywright? _playwright;
    private readonly List<IBrowserContext> _contexts = [];
    protected IBrowser Browser { get; private set; } = null!;

    [OneTimeSetUp]
    public async Task StartBrowserAsync()
    {
        if (ChromiumPath is not { } chromium)
        {
            const string missing = "Chromium is not installed (apt-get install chromium, or set OPENHVX_CHROMIUM)";
            if (Environment.GetEnvironmentVariable("CI") is "true" or "1")
                Assert.Fail(missing);
            Assert.Ignore(missing);
            return;
        }
        // Expect waits 5 s by default: too little for a saga on a loaded two-core machine. (A process-wide setting.)
        Assertions.SetDefaultExpectTimeout(20_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = chromium, Headless = true, Args = ["--no-sandbox"] });
    }

    [OneTimeTearDown]
    public async Task StopBrowserAsync()
    {
        if (Browser is not null)
            await Browser.DisposeAsync();
        _playwright?.Dispose();
    }

    /// <summary>A fresh browser profile (no cookies) on the console's start page; <paramref name="bypassCsp"/> lets a test inject a checker script.</summary>
    protected async Task<IPage> OpenConsoleAsync(bool bypassCsp = false)
    {
        var context = await Browser.NewContextAsync(new() { BaseURL = DevHost.Url, ViewportSize = new() { Width = 1280, Height = 900 }, BypassCSP = bypassCsp });
        context.SetDefaultTimeout(20_000);
        _contexts.Add(context);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/console/");
        return page;
    }

    /// <summary>Signs in through the console's button and the token service's sign-in page (authorization code with PKCE).</summary>
    protected async Task<IPage> SignInAsync(string username, string password, bool bypassCsp = false)
    {
        var page = await OpenConsoleAsync(bypassCsp);
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByLabel("Username").FillAsync(username);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Navigation, new() { Name = "Main" })).ToBeVisibleAsync();
        return page;
    }

    protected Task<IPage> SignInAsAdminAsync(bool bypassCsp = false) => SignInAsync("admin", Tokens.AdminPassword, bypassCsp);

    /// <summary>Opens a console route (<c>#/agents</c>...) and waits until its view has rendered.</summary>
    protected static async Task GoToAsync(IPage page, string route)
    {
        await page.EvaluateAsync("route => { location.hash = route; }", route);
        await Assertions.Expect(page.Locator("#view[aria-busy]")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("#view h1")).ToBeVisibleAsync();
    }

    /// <summary>Screenshots of every page the test opened, then its browser profiles closed.</summary>
    [TearDown]
    public async Task SaveScreenshotsAsync()
    {
        Directory.CreateDirectory(ScreenshotFolder);
        var test = TestContext.CurrentContext.Test.Name;
        var n = 0;
        foreach (var context in _contexts)
        {
            foreach (var page in context.Pages)
            {
                var path = Path.Combine(ScreenshotFolder, $"{GetType().Name}.{test}{(n++ == 0 ? "" : "." + n)}.png");
                try
                {
                    await page.ScreenshotAsync(new() { Path = path, FullPage = true });
                    TestContext.AddTestAttachment(path);
                }
                catch (PlaywrightException ex)
                {
                    TestContext.Progress.WriteLine($"No screenshot of {page.Url}: {ex.Message}");
                }
            }
            await context.DisposeAsync();
        }
        _contexts.Clear();
    }
}
