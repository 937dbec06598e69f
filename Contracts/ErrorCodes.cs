namespace OpenHvx.Contracts;

/// <summary>Error codes of the HTTP API (design/api.md) and of agent results.</summary>
public static class ErrorCodes
{
    public const string Validation = "ERR_VALIDATION";
    public const string UnknownAction = "ERR_UNKNOWN_ACTION";
    public const string BadEnvelope = "ERR_BAD_ENVELOPE";
    public const string TenantRequired = "ERR_TENANT_REQUIRED";
    public const string TenantMismatch = "ERR_TENANT_MISMATCH";
    public const string TenantDisabled = "ERR_TENANT_DISABLED";
    public const string Forbidden = "ERR_FORBIDDEN";
    public const string NotFound = "ERR_NOT_FOUND";
    public const string ImageNotFound = "ERR_IMAGE_NOT_FOUND";
    public const string NoEligibleAgent = "ERR_NO_ELIGIBLE_AGENT";
    public const string QuotaExceeded = "ERR_QUOTA_EXCEEDED";
    public const string ResourceLocked = "ERR_RESOURCE_LOCKED";
    public const string NameTaken = "ERR_NAME_TAKEN";
    public const string IdempotencyConflict = "ERR_IDEMPOTENCY_CONFLICT";
    public const string TenantExists = "ERR_TENANT_EXISTS";
    public const string TenantHasResources = "ERR_TENANT_HAS_RESOURCES";
    public const string Unauthenticated = "ERR_UNAUTHENTICATED";
    public const string RateLimited = "ERR_RATE_LIMITED";
    public const string PayloadTooLarge = "ERR_PAYLOAD_TOO_LARGE";
    public const string UpstreamUnavailable = "ERR_UPSTREAM_UNAVAILABLE";
    public const string UserExists = "ERR_USER_EXISTS";
    public const string ImageExists = "ERR_IMAGE_EXISTS";
    public const string ImageInUse = "ERR_IMAGE_IN_USE";
    public const string UnsupportedMediaType = "ERR_UNSUPPORTED_MEDIA_TYPE";
    public const string MethodNotAllowed = "ERR_METHOD_NOT_ALLOWED";
    public const string BadHeader = "ERR_BAD_HEADER";
    public const string BadRequest = "ERR_BAD_REQUEST";
    /// <summary>The task has already ended (SUCCESS, FAILED or CANCELED): it cannot be canceled.</summary>
    public const string TaskFinal = "ERR_TASK_FINAL";
    /// <summary>Only a FAILED or CANCELED task can be retried.</summary>
    public const string TaskNotRetryable = "ERR_TASK_NOT_RETRYABLE";

    /// <summary>A webhook URL whose host is, or resolves to, a loopback, private, link-local, multicast or metadata address.</summary>
    public const string WebhookAddressRefused = "ERR_WEBHOOK_ADDRESS_REFUSED";
    /// <summary>The tenant already has as many webhooks as it may.</summary>
    public const string WebhookLimit = "ERR_WEBHOOK_LIMIT";

    /// <summary>A non-final state missed its deadline; the full code is <c>ERR_DEADLINE_&lt;STATE&gt;</c>.</summary>
    public const string DeadlinePrefix = "ERR_DEADLINE_";
    public const string DispatchFailed = "ERR_DISPATCH_FAILED";
    public const string Internal = "ERR_INTERNAL";
    /// <summary>A step of the task pipeline failed unexpectedly: the task is refused and nothing it took is kept.</summary>
    public const string StepFailed = "ERR_STEP_FAILED";
    public const string Unavailable = "ERR_UNAVAILABLE";
    /// <summary>The task's agent went offline before it started the task, and no other agent may run it.</summary>
    public const string AgentUnavailable = "ERR_AGENT_UNAVAILABLE";
    /// <summary>The VM is gone from its host (deleted out of band): only vm.delete may still target it.</summary>
    public const string ResourceGone = "ERR_RESOURCE_GONE";

    // Agent-side codes.
    public const string Timeout = "ERR_TIMEOUT";
    public const string Interrupted = "ERR_INTERRUPTED";
    public const string ScriptFailed = "ERR_SCRIPT";
    public const string UnsupportedAction = "ERR_UNSUPPORTED_ACTION";
    public const string WrongAgent = "ERR_WRONG_AGENT";
    /// <summary>The task reached the agent after its not-after time (it may run elsewhere): it was not run.</summary>
    public const string Expired = "ERR_EXPIRED";
    /// <summary>The task was canceled: not run, or its script stopped (and what it built removed).</summary>
    public const string Canceled = "ERR_CANCELED";

    /// <summary>
    /// Not an error: the <c>errorCode</c> of the event a FAILED or CANCELED task gets when its agent reports a success afterwards (what it
    /// built is charged and linked; the task keeps its status).
    /// </summary>
    public const string LateSuccess = "LATE_SUCCESS";

    public static string Deadline(string state) => DeadlinePrefix + state.ToUpperInvariant();
}
