using System.Text.Json;
using OpenHvx.Contracts;

namespace OpenHvx.Cli.Api;

/// <summary>The API's problems (RFC 9457 with <c>code</c>) as one line for stderr and the exit code scripts rely on.</summary>
public static class ApiErrors
{
    /// <summary>The exit code and a hint for each code of <see cref="ErrorCodes"/> the API answers with; null for a code it does not know.</summary>
    public static (int ExitCode, string? Hint)? Of(string code) => code switch
    {
        ErrorCodes.Validation => (ExitCodes.Usage, null),
        ErrorCodes.UnknownAction => (ExitCodes.Usage, "this server does not know the action; is the CLI newer than the server?"),
        ErrorCodes.BadEnvelope or ErrorCodes.BadHeader or ErrorCodes.BadRequest => (ExitCodes.Usage, null),
        ErrorCodes.TenantRequired => (ExitCodes.Usage, "an admin names the tenant: add --tenant <tenantId>"),
        ErrorCodes.PayloadTooLarge => (ExitCodes.Usage, "the request is over the server's size limit"),
        ErrorCodes.UnsupportedMediaType or ErrorCodes.MethodNotAllowed => (ExitCodes.Usage, "the server refused the request's form; is the CLI newer than the server?"),
        ErrorCodes.ImageNotFound => (ExitCodes.Usage, "see the image catalog: GET /api/v1/tenant/images"),
        ErrorCodes.StepFailed => (ExitCodes.Usage, "the task was refused and nothing it took is kept; retry, or report it with the task id"),
        ErrorCodes.ResourceGone => (ExitCodes.Usage, "the VM is gone from its host: only `openhvx vm delete` may still target it"),
        ErrorCodes.WebhookAddressRefused => (ExitCodes.Usage, "a webhook must reach a public address"),
        ErrorCodes.Unauthenticated => (ExitCodes.Auth, "sign in again: openhvx login"),
        ErrorCodes.TenantMismatch => (ExitCodes.Auth, "a tenant user acts in its own tenant only: drop --tenant"),
        ErrorCodes.TenantDisabled => (ExitCodes.Auth, "the tenant is disabled; an admin can enable it"),
        ErrorCodes.Forbidden => (ExitCodes.Auth, "your role does not allow this (read-only user, or an admin command)"),
        ErrorCodes.NotFound => (ExitCodes.NotFound, null),
        ErrorCodes.NameTaken => (ExitCodes.Conflict, "choose another --name, or delete the VM that has it"),
        ErrorCodes.QuotaExceeded => (ExitCodes.Conflict, "see `openhvx quota get`; an admin can raise the limits with `openhvx quota set`"),
        ErrorCodes.ResourceLocked => (ExitCodes.Conflict, "another task is changing this VM; retry when it ends (openhvx task list --state ...)"),
        ErrorCodes.IdempotencyConflict => (ExitCodes.Conflict, "the same Idempotency-Key was used with another request"),
        ErrorCodes.TenantExists or ErrorCodes.UserExists or ErrorCodes.ImageExists => (ExitCodes.Conflict, null),
        ErrorCodes.TenantHasResources => (ExitCodes.Conflict, "delete its VMs and let its tasks end first"),
        ErrorCodes.ImageInUse => (ExitCodes.Conflict, null),
        ErrorCodes.TaskFinal => (ExitCodes.Conflict, "the task has already ended"),
        ErrorCodes.TaskNotRetryable => (ExitCodes.Conflict, "only a FAILED or CANCELED task that was not retried yet can be retried; retry the newest of its chain"),
        ErrorCodes.WebhookLimit => (ExitCodes.Conflict, "delete a webhook of the tenant first"),
        ErrorCodes.RateLimited => (ExitCodes.Unavailable, "too many requests; retry later"),
        ErrorCodes.NoEligibleAgent => (ExitCodes.Unavailable, "no Hyper-V host has the capacity or capability now; retry later"),
        ErrorCodes.Unavailable => (ExitCodes.Unavailable, "the orchestrator could not take the request now; retry"),
        ErrorCodes.UpstreamUnavailable => (ExitCodes.Unavailable, "the gateway could not reach the orchestrator"),
        ErrorCodes.Internal or ErrorCodes.DispatchFailed or ErrorCodes.AgentUnavailable => (ExitCodes.Unavailable, null),
        _ when code.StartsWith(ErrorCodes.DeadlinePrefix, StringComparison.Ordinal) => (ExitCodes.Unavailable, "the task missed a deadline; retry with `openhvx task retry`"),
        _ => null,
    };

    public static int ByStatus(int status) => status switch
    {
        400 or 413 or 415 or 422 => ExitCodes.Usage,
        401 or 403 => ExitCodes.Auth,
        404 => ExitCodes.NotFound,
        409 => ExitCodes.Conflict,
        _ => ExitCodes.Unavailable,
    };

    /// <summary>A hint for a task's error code (the agent's codes and the saga's); null for a code it does not know.</summary>
    public static string? TaskHint(string code) => code switch
    {
        ErrorCodes.Timeout => "the host did not finish in time; retry with `openhvx task retry`",
        ErrorCodes.Interrupted => "the host's agent stopped while running it; retry with `openhvx task retry`",
        ErrorCodes.Canceled => "the task was canceled",
        ErrorCodes.Expired or ErrorCodes.AgentUnavailable => "no host ran it in time; retry with `openhvx task retry`",
        "ERR_INVALID_STATE" => "the VM's power state does not allow this operation",
        "ERR_STOP_TIMEOUT" or "ERR_STOP_FAILED" => "the guest did not shut down; retry with --force",
        ErrorCodes.ScriptFailed => "the host's script failed; the task's error says where (admins: openhvx task get)",
        ErrorCodes.UnsupportedAction => "the host's agent does not support this action; it may be older than the orchestrator",
        ErrorCodes.WrongAgent => "the task reached another host than the one elected; retry with `openhvx task retry`",
        _ => Of(code)?.Hint,
    };

    public static CliException From(int status, string body)
    {
        string? code = null, detail = null;
        var fields = new List<string>();
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                code = root.TryGetProperty("code", out var c) ? c.GetString() : null;
                detail = root.TryGetProperty("detail", out var d) ? d.GetString() : null;
                if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
                    fields.AddRange(errors.EnumerateObject().SelectMany(e => e.Value.EnumerateArray().Select(m => $"{e.Name}: {m.GetString()}")));
            }
        }
        catch (JsonException)
        {
            // Not a problem document (a proxy's page): the status says enough.
        }
        var (exitCode, hint) = (code is null ? null : Of(code)) ?? (ByStatus(status), null);
        var line = $"{code ?? $"HTTP {status}"}: {detail ?? "the server refused the request"}";
        if (fields.Count > 0)
            line += " (" + string.Join("; ", fields) + ")";
        if (hint is not null)
            line += " - " + hint;
        return new CliException(exitCode, line);
    }
}
