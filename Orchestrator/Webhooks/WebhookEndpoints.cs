using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Api;
using OpenHvx.Orchestrator.Events;
using OpenHvx.Orchestrator.Security;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.Orchestrator.Tenants;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Webhooks;

/// <summary>
/// <c>/api/v1/tenant/webhooks</c> (a tenant-admin, its own tenant's) and <c>/api/v1/admin/webhooks</c> (any tenant's): create, list,
/// read, enable or disable (PATCH <c>{"status"}</c>), delete. Another tenant's webhook is "not found".
/// </summary>
public static class WebhookEndpoints
{
    public const int MaxUrlLength = 2000;

    private static readonly HashSet<string> CreateFields = ["tenantId", "url", "events", "secret"];
    private static readonly HashSet<string> UpdateFields = ["status"];
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(5);

    public static RouteGroupBuilder MapTenantWebhookEndpoints(this RouteGroupBuilder tenant)
    {
        // Like managing users: webhooks send the tenant's events out and hold a signing secret, so only its tenant-admins manage them.
        var webhooks = tenant.MapGroup("/webhooks").WithTags("Webhooks").RequireAuthorization(OrchestratorPolicies.TenantAdmin);
        Map(webhooks, write => write.RequireAuthorization(OrchestratorPolicies.TenantWrite));
        return tenant;
    }

    public static RouteGroupBuilder MapAdminWebhookEndpoints(this RouteGroupBuilder admin)
    {
        Map(admin.MapGroup("/webhooks").WithTags("Webhooks"), _ => { });
        return admin;
    }

    private static void Map(RouteGroupBuilder webhooks, Action<RouteHandlerBuilder> write)
    {
        write(webhooks.MapPost("", CreateAsync));
        webhooks.MapGet("", ListAsync);
        webhooks.MapGet("/{webhookId}", async (string webhookId, HttpContext http, IWebhookStore store) =>
            await FindAsync(webhookId, http, store) is { } webhook ? Results.Ok(WebhookView.Of(webhook)) : NotFound(webhookId));
        write(webhooks.MapPatch("/{webhookId}", UpdateAsync));
        write(webhooks.MapDelete("/{webhookId}", DeleteAsync));
    }

    private static IResult NotFound(string webhookId) => Problems.Result(ErrorCodes.NotFound, $"Webhook '{webhookId}' was not found.");

    /// <summary>The webhook when the caller may see it: an admin any, a tenant its own.</summary>
    private static async Task<Webhook?> FindAsync(string webhookId, HttpContext http, IWebhookStore store)
    {
        var caller = Caller.From(http.User);
        var webhook = await store.GetAsync(webhookId, http.RequestAborted);
        return webhook is not null && (caller.IsAdmin || webhook.TenantId == caller.TenantId) ? webhook : null;
    }

    private static async Task<IResult> ListAsync(HttpContext http, IWebhookStore store, string? tenantId = null)
    {
        var caller = Caller.From(http.User);
        var items = await store.ListAsync(caller.IsAdmin ? tenantId : caller.TenantId, http.RequestAborted);
        return Results.Ok(new { items = items.Select(WebhookView.Of) });
    }

    private static async Task<IResult> CreateAsync(HttpContext http, IWebhookStore store, ITenantStore tenants, ITaskEventLog log, TaskActionCatalog actions,
        WebhookAddressPolicy policy, IOptions<WebhookOptions> options, TimeProvider clock)
    {
        var ct = http.RequestAborted;
        var caller = Caller.From(http.User);
        var (body, invalid) = await JsonBodies.ReadObjectAsync(http);
        if (invalid is not null)
            return invalid;
        var errors = new FieldErrors();
        errors.RejectUnknown(body, CreateFields);
        var fields = new BodyFields(body, errors);
        var named = fields.Text("tenantId", required: false, Identifiers.IsTenantId, Identifiers.TenantIdRule);
        var url = fields.Text("url", required: true, value => value.Length <= MaxUrlLength, $"a URL of at most {MaxUrlLength} characters");
        var uri = url is null ? null : ReadUrl(url, errors);
        var events = ReadEvents(body, actions.Names.ToList(), errors);
        var secret = fields.Text("secret", required: false, WebhookSecret.IsValid, WebhookSecret.Rule);
        if (errors.Any)
            return Problems.Validation(errors.ToDictionary());

        string tenantId;
        if (caller.IsAdmin)
        {
            if (named is null)
                return Problems.Result(ErrorCodes.TenantRequired, "Name the tenant whose events the webhook receives: tenantId.");
            if (await tenants.GetAsync(named, ct) is null)
                return TenantEndpoints.NotFound(named);
            tenantId = named;
        }
        else
        {
            if (named is not null && named != caller.TenantId)
                return Problems.Result(ErrorCodes.TenantMismatch, "A tenant creates webhooks in its own tenant only.");
            tenantId = caller.TenantId!;
        }

        if (await CheckAddressAsync(uri!, policy, ct) is { } refused)
            return refused;

        // Only events after this one are delivered: a new webhook does not replay the tenant's history.
        var cursor = await log.LastSequenceAsync(ct);
        var webhook = new Webhook("wh_" + Guid.NewGuid().ToString("N"), tenantId, uri!.AbsoluteUri, events!, secret ?? WebhookSecret.Generate(),
            clock.GetUtcNow(), new WebhookDelivery(Webhook.Active, cursor));
        var max = options.Value.MaxPerTenant;
        if (!await store.TryCreateAsync(webhook, max, ct))
            return Problems.Result(ErrorCodes.WebhookLimit, $"Tenant '{tenantId}' already has {max} webhooks; delete one first.");
        return Results.Created($"{caller.RoutePrefix}/webhooks/{webhook.Id}", WebhookView.Of(webhook) with { Secret = webhook.Secret });
    }

    /// <summary>An absolute http or https URL with a host, without user info or fragment.</summary>
    private static Uri? ReadUrl(string url, FieldErrors errors)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
            || string.IsNullOrEmpty(uri.Host) || url.Any(char.IsControl) || url.Any(char.IsWhiteSpace))
            errors.Add("url", "must be an absolute http or https URL");
        else if (uri.IdnHost.TrimEnd('.').Length > 253)
            errors.Add("url", "must have a host name of at most 253 characters");
        else if (uri.UserInfo.Length > 0)
            errors.Add("url", "must not carry a user name or password");
        else if (uri.Fragment.Length > 0)
            errors.Add("url", "must not have a fragment (#...)");
        else
            return uri;
        return null;
    }

    private static List<string>? ReadEvents(JsonElement body, IReadOnlyList<string> actions, FieldErrors errors)
    {
        if (!body.TryGetProperty("events", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            errors.Add("events", "is required: a list of event types or patterns, like [\"vm.create.SUCCESS\", \"*.FAILED\"] or [\"*\"]");
            return null;
        }
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() is 0 or > WebhookEventFilter.MaxPatterns)
        {
            errors.Add("events", $"must be a list of 1 to {WebhookEventFilter.MaxPatterns} event types or patterns");
            return null;
        }
        var patterns = new List<string>();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var field = $"events[{index++}]";
            if (item.ValueKind != JsonValueKind.String)
                errors.Add(field, "must be a string: " + WebhookEventFilter.Rule);
            else if (WebhookEventFilter.Check(item.GetString()!, actions) is { } problem)
                errors.Add(field, problem);
            else if (!patterns.Contains(item.GetString()!))
                patterns.Add(item.GetString()!);
        }
        return patterns;
    }

    /// <summary>A problem when the URL's host is, or resolves to, a refused address, or does not resolve at all.</summary>
    private static async Task<IResult?> CheckAddressAsync(Uri uri, WebhookAddressPolicy policy, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ResolveTimeout);
        try
        {
            await policy.ResolveAsync(uri.IdnHost, timeout.Token);
            return null;
        }
        catch (WebhookAddressRefusedException ex)
        {
            return Problems.Result(ErrorCodes.WebhookAddressRefused,
                $"The webhook URL may not reach this address: {ex.Message}. An operator can allow a network (Orchestrator:Webhooks:AllowedNetworks).");
        }
        catch (Exception ex) when (ex is SocketException or ArgumentException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return Problems.Validation(new Dictionary<string, string[]> { ["url"] = [$"host '{uri.Host}' does not resolve"] });
        }
    }

    /// <summary><c>{"status": "active"}</c> enables (delivery resumes from the cursor, failures forgotten); <c>"disabled"</c> pauses.</summary>
    private static async Task<IResult> UpdateAsync(string webhookId, HttpContext http, IWebhookStore store, TimeProvider clock)
    {
        var ct = http.RequestAborted;
        if (await FindAsync(webhookId, http, store) is null)
            return NotFound(webhookId);
        var (body, invalid) = await JsonBodies.ReadObjectAsync(http);
        if (invalid is not null)
            return invalid;
        var errors = new FieldErrors();
        errors.RejectUnknown(body, UpdateFields);
        var status = new BodyFields(body, errors).Text("status", required: true, value => value is Webhook.Active or Webhook.Disabled, "active or disabled");
        if (errors.Any)
            return Problems.Validation(errors.ToDictionary());

        // The dispatcher may move the cursor meanwhile: read again and apply to what is there.
        for (var attempt = 0; attempt < 5; attempt++)
        {
            if (await store.GetAsync(webhookId, ct) is not { } webhook)
                return NotFound(webhookId);
            var current = webhook.Delivery;
            var next = status == Webhook.Active
                ? current with { Status = Webhook.Active, Failures = 0, NextAttemptAt = null, DisabledAt = null, DisabledReason = null }
                : current.Status == Webhook.Disabled
                    ? current
                    : current with { Status = Webhook.Disabled, NextAttemptAt = null, DisabledAt = clock.GetUtcNow(), DisabledReason = "disabled through the API" };
            if (await store.SaveDeliveryAsync(webhookId, current, next, ct))
                return Results.Ok(WebhookView.Of(webhook with { Delivery = next }));
        }
        return Problems.Result(ErrorCodes.Unavailable, "The webhook is being delivered to right now; try again.");
    }

    private static async Task<IResult> DeleteAsync(string webhookId, HttpContext http, IWebhookStore store)
    {
        if (await FindAsync(webhookId, http, store) is null || !await store.DeleteAsync(webhookId, http.RequestAborted))
            return NotFound(webhookId);
        return Results.NoContent();
    }
}
