using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OpenHvx.Contracts;
using OpenHvx.Contracts.Actions;
using OpenHvx.Tests.Support;

namespace OpenHvx.Tests.Api;

/// <summary>The API's OpenAPI 3.1 document through the gateway (<c>/openapi/v1.json</c>) and its interactive reference (<c>/docs</c>).</summary>
[TestFixture]
[Category("Integration")]
public sealed class OpenApiDocumentTests : DevHostFixture
{
    private JsonObject _document = null!;
    private string _text = "";

    [OneTimeSetUp]
    public async Task ReadTheDocumentAsync()
    {
        using var anonymous = new HttpClient { BaseAddress = new Uri(DevHost.Url) };
        using var response = await anonymous.GetAsync("/openapi/v1.json");
        _text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), _text);
        _document = JsonNode.Parse(_text)!.AsObject();
    }

    private JsonObject Schema(string name) => _document["components"]!["schemas"]![name]!.AsObject();

    private JsonObject Operation(string path, string method) => _document["paths"]![path]?[method]?.AsObject()
        ?? throw new AssertionException($"{method.ToUpperInvariant()} {path} is not in the document.");

    [Test]
    public async Task The_document_is_valid_OpenAPI_3_1_for_an_independent_validator()
    {
        using var folder = new TempFolder("openapi");
        File.WriteAllText(folder.File("openapi.json"), _text);
        var run = await NodeClients.RunAsync("validate-openapi.mjs", [folder.File("openapi.json")]);
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var verdict = JsonNode.Parse(run.Output)!;
        Assert.That(verdict["valid"]!.GetValue<bool>(), Is.True, run.Output);
        Assert.That(verdict["version"]!.GetValue<string>(), Is.EqualTo("3.1"));
        Assert.That(_document["openapi"]!.GetValue<string>(), Does.StartWith("3.1."));

        // The same validator refuses a broken copy: the check above can fail.
        var broken = _document.DeepClone().AsObject();
        broken["paths"]!["/api/v1/admin/tasks"]!["post"]!["responses"] = "none";
        File.WriteAllText(folder.File("broken.json"), broken.ToJsonString());
        var refused = await NodeClients.RunAsync("validate-openapi.mjs", [folder.File("broken.json")]);
        Assert.That(refused.ExitCode, Is.Not.Zero, refused.ToString());
    }

    [Test]
    public void Every_mapped_API_route_of_the_gateway_and_the_orchestrator_is_in_the_document()
    {
        var routes = new[] { DevHost.GatewayServices, DevHost.Services }
            .SelectMany(services => services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
            .Where(e => e.RoutePattern.RawText?.TrimStart('/').StartsWith("api/", StringComparison.Ordinal) == true)
            // The gateway's proxy routes (catch-alls) forward to the orchestrator's routes, which are listed themselves.
            .Where(e => !e.RoutePattern.RawText!.Contains("{**", StringComparison.Ordinal))
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(method => (Path: "/" + e.RoutePattern.RawText!.Trim('/'), Method: method.ToLowerInvariant())))
            .Distinct()
            .ToList();
        Assert.That(routes, Has.Count.GreaterThan(50), "the routes were found");

        var missing = routes.Where(r => _document["paths"]?[r.Path]?[r.Method] is null).Select(r => $"{r.Method.ToUpperInvariant()} {r.Path}").ToList();
        Assert.That(missing, Is.Empty);
        var documented = _document["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject().Select(m => (p.Key, m.Key))).Count();
        Assert.That(documented, Is.EqualTo(routes.Count), "nothing but the mapped routes is documented");
    }

    [Test]
    public void Task_submission_has_one_request_schema_per_action_chosen_by_action()
    {
        foreach (var (api, actions) in new[] { ("admin", ActionDataTypes.ByAction.Keys.ToArray()), ("tenant", ActionDataTypes.ByAction.Keys.Where(a => a != ActionNames.InventoryRefresh).ToArray()) })
        {
            var body = Operation($"/api/v1/{api}/tasks", "post")["requestBody"]!;
            var schema = body["content"]!["application/json"]!["schema"]!;
            Assert.That(schema["discriminator"]!["propertyName"]!.GetValue<string>(), Is.EqualTo("action"));
            var mapping = schema["discriminator"]!["mapping"]!.AsObject();
            Assert.That(mapping.Select(m => m.Key), Is.EquivalentTo(actions), api);
            foreach (var (action, reference) in mapping)
            {
                var envelope = Schema(reference!.GetValue<string>().Split('/')[^1]);
                Assert.That(envelope["properties"]!["action"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()), Is.EqualTo(new[] { action }));
                Assert.That(envelope["properties"]!["data"]!["$ref"]!.GetValue<string>(), Is.EqualTo("#/components/schemas/" + ActionDataTypes.Of(action).Name));
                Assert.That(envelope["additionalProperties"]!.GetValue<bool>(), Is.False);
                var required = envelope["required"]!.AsArray().Select(v => v!.GetValue<string>()).ToList();
                Assert.That(required, api == "admin" ? Does.Contain("tenantId") : Does.Not.Contain("tenantId"));
                // An absent data is read as {}: the document requires it exactly where {} is refused.
                var emptyRefused = ActionData.Read(ActionDataTypes.Of(action), JsonDocument.Parse("{}").RootElement, (_, _) => { }) is null;
                Assert.That(required.Contains("data"), Is.EqualTo(emptyRefused), $"{api} {action}: data required");
            }
        }
    }

    [Test]
    public void Each_data_schema_has_every_member_of_its_record_with_its_rules_and_description()
    {
        foreach (var (action, type) in ActionDataTypes.ByAction)
        {
            var schema = Schema(type.Name);
            Assert.That(schema["additionalProperties"]?.GetValue<bool>(), Is.False, $"{action}: unknown members are refused");
            var properties = schema["properties"]?.AsObject() ?? [];
            Assert.That(properties.Select(p => p.Key), Is.EquivalentTo(ActionData.MembersOf(type).Select(m => m.Name)), action);
            foreach (var property in properties)
                Assert.That(property.Value!["description"]?.GetValue<string>(), Is.Not.Null.And.Not.Empty, $"{action}: {property.Key}");
        }

        var create = Schema(nameof(VmCreateData));
        Assert.That(create["required"]!.AsArray().Select(v => v!.GetValue<string>()), Is.EqualTo(new[] { "name" }));
        Assert.That(create["properties"]!["name"]!["pattern"]!.GetValue<string>(), Is.EqualTo(Identifiers.VmNameRule));
        Assert.That(create["properties"]!["cpu"]!["minimum"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That(create["properties"]!["cpu"]!["maximum"]!.GetValue<int>(), Is.EqualTo(64));
        Assert.That(create["properties"]!["cpu"]!["type"]!.ToJsonString(), Does.Not.Contain("string"), "a string is not a number in this API");
        Assert.That(create["properties"]!["ram"]!["oneOf"]!.AsArray(), Has.Count.EqualTo(2), "\"2GB\" or an integer of MB");
        Assert.That(create["properties"]!["generation"]!["enum"]!.AsArray().Select(v => v!.GetValue<int>()), Is.EqualTo(new[] { 1, 2 }));
        var cloudInit = create["properties"]!["cloudInit"]!.AsObject();
        Assert.That(cloudInit["additionalProperties"]?.GetValue<bool>(), Is.False, "nested records refuse unknown members too");
        Assert.That(cloudInit["properties"]!["sshAuthorizedKeys"]!["maxItems"]!.GetValue<int>(), Is.EqualTo(32));
        Assert.That(Schema(nameof(VmEditData))["minProperties"]!.GetValue<int>(), Is.EqualTo(1), "an edit names at least one change");
        Assert.That(Schema(nameof(VmPowerData))["properties"]!["state"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()), Is.EqualTo(VmPowerData.States));
    }

    [Test]
    public async Task The_documented_example_of_a_task_is_accepted_by_the_API()
    {
        var example = Operation("/api/v1/admin/tasks", "post")["requestBody"]!["content"]!["application/json"]!["examples"]!["vm.create"]!["value"]!.DeepClone();
        using var response = await Client.PostAsync("/api/v1/admin/tasks", new StringContent(example.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public void Operations_declare_their_token_scope_and_their_problem_answers_with_codes()
    {
        var schemes = _document["components"]!["securitySchemes"]!.AsObject();
        Assert.That(schemes["bearer"]!["scheme"]!.GetValue<string>(), Is.EqualTo("bearer"));
        Assert.That(schemes["oauth2"]!["flows"]!["clientCredentials"]!["tokenUrl"]!.GetValue<string>(), Is.EqualTo(TokenServicePaths.Token));

        string ScopeOf(string path, string method) => Operation(path, method)["security"]!.AsArray()
            .Select(r => r!["oauth2"]).OfType<JsonArray>().Single().Single()!.GetValue<string>();
        Assert.That(ScopeOf("/api/v1/admin/agents", "get"), Is.EqualTo(Scopes.Admin));
        Assert.That(ScopeOf("/api/v1/tenant/tasks", "get"), Is.EqualTo(Scopes.Read));
        Assert.That(ScopeOf("/api/v1/tenant/tasks", "post"), Is.EqualTo(Scopes.Write));
        Assert.That(ScopeOf("/api/v1/tenant/users", "post"), Is.EqualTo(Scopes.Users));

        var responses = Operation("/api/v1/tenant/tasks", "post")["responses"]!.AsObject();
        Assert.That(responses["422"]!["content"]!["application/problem+json"]!["schema"]!["$ref"]!.GetValue<string>(), Is.EqualTo("#/components/schemas/Problem"));
        Assert.That(responses["422"]!["description"]!.GetValue<string>(), Does.Contain(ErrorCodes.Validation));
        Assert.That(responses["409"]!["description"]!.GetValue<string>(), Does.Contain(ErrorCodes.QuotaExceeded).And.Contain(ErrorCodes.NameTaken));
        Assert.That(responses["401"]!["description"]!.GetValue<string>(), Does.Contain(ErrorCodes.Unauthenticated));
        Assert.That(Schema("Problem")["properties"]!.AsObject().Select(p => p.Key), Is.SupersetOf(new[] { "type", "title", "status", "detail", "code", "errors" }));
    }

    [Test]
    public void The_document_does_not_name_the_orchestrators_address()
    {
        var orchestrator = new Uri(DevHost.App.CoreUrl);
        Assert.That(_document["servers"], Is.Null);
        Assert.That(_text, Does.Not.Contain($":{orchestrator.Port}"));
    }

    [Test]
    public async Task The_interactive_reference_at_docs_is_served_by_the_gateway_itself()
    {
        using var http = new HttpClient { BaseAddress = new Uri(DevHost.Url) };
        var page = await http.GetStringAsync("/docs/");
        Assert.That(page, Does.Contain("openapi/v1.json"));
        Assert.That(page, Does.Not.Contain("https://"), "no script or style from elsewhere");
        using var script = await http.GetAsync("/docs/scalar.js");
        Assert.That(script.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await script.Content.ReadAsByteArrayAsync()).Length, Is.GreaterThan(100_000));
    }
}
