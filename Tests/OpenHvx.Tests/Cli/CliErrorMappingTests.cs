using System.Reflection;
using OpenHvx.Cli;
using OpenHvx.Cli.Api;
using OpenHvx.Cli.Commands.Vm;
using OpenHvx.Contracts;

namespace OpenHvx.Tests.Cli;

/// <summary>The CLI's reading of the API's error codes and of the action records, without a server.</summary>
[TestFixture]
[Category("Unit")]
public sealed class CliErrorMappingTests
{
    private static IEnumerable<string> Codes() => typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.Name is not nameof(ErrorCodes.DeadlinePrefix) and not nameof(ErrorCodes.LateSuccess))
        .Select(f => (string)f.GetRawConstantValue()!);

    [TestCaseSource(nameof(Codes))]
    public void Every_error_code_has_its_exit_code_or_a_hint(string code)
        => Assert.That(ApiErrors.Of(code) is not null || ApiErrors.TaskHint(code) is not null, Is.True, $"{code} is not mapped");

    [TestCase(ErrorCodes.Validation, 422, ExitCodes.Usage)]
    [TestCase(ErrorCodes.Unauthenticated, 401, ExitCodes.Auth)]
    [TestCase(ErrorCodes.NotFound, 404, ExitCodes.NotFound)]
    [TestCase(ErrorCodes.NameTaken, 409, ExitCodes.Conflict)]
    [TestCase(ErrorCodes.NoEligibleAgent, 503, ExitCodes.Unavailable)]
    [TestCase("ERR_SOMETHING_NEW", 409, ExitCodes.Conflict)]
    [TestCase("ERR_SOMETHING_NEW", 502, ExitCodes.Unavailable)]
    public void A_problem_becomes_one_line_with_its_detail_and_the_exit_code_of_its_code_or_status(string code, int status, int exitCode)
    {
        var error = ApiErrors.From(status, $$"""{"code":"{{code}}","detail":"What the server said."}""");

        Assert.That(error.ExitCode, Is.EqualTo(exitCode));
        Assert.That(error.Message, Does.StartWith($"{code}: What the server said.").And.Not.Contain("\n"));
    }

    [Test]
    public void A_body_that_is_no_problem_is_read_by_its_status()
        => Assert.That(ApiErrors.From(502, "<html>Bad gateway</html>").Message, Does.StartWith("HTTP 502: "));

    [Test]
    public void The_options_of_vm_create_come_from_its_record_flattened_and_in_kebab_case()
    {
        var names = DataOptions.For(ActionNames.VmCreate).Options.Select(o => o.Name).ToList();

        Assert.That(names, Is.SupersetOf(new[]
        {
            "--name", "--cpu", "--ram", "--image-id", "--storage-gb", "--switch", "--generation",
            "--cloud-init-hostname", "--cloud-init-ssh-authorized-keys", "--cloud-init-network-mode", "--cloud-init-network-nameservers",
        }));
        Assert.That(names, Has.None.EqualTo("--cloud-init"), "a nested record is flattened, not an option");
        Assert.That(DataOptions.For(ActionNames.VmPower).Options.Single(o => o.Name == "--state").HelpName, Does.StartWith("start|stop|turnoff"));
    }
}
