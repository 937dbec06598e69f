using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OpenHvx.Contracts;
using OpenHvx.Orchestrator.Actions;
using OpenHvx.Orchestrator.Api;
using OpenHvx.Orchestrator.Persistence;
using OpenHvx.Orchestrator.Tasks;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.Events;

/// <summary>
/// Task events as server-sent events: <c>GET /events</c> (a tenant's own; an admin's any tenant's, with filters) from now on, and
/// <c>GET /tasks/{taskId}/events</c> from the task's first event to its final one. Both resume after <c>Last-Event-ID</c>
/// (or <c>?lastEventId=</c> / <c>?after=</c> for clients that cannot set headers).
/// </summary>
public static class TaskEventEndpoints
{
    public const string LastEventIdHeader = "Last-Event-ID";

    public static RouteGroupBuilder MapAdminTaskEventEndpoints(this RouteGroupBuilder admin)
    {
        admin.MapGet("/events", StreamAsync).WithTags("Events");
        admin.MapGet("/tasks/{taskId}/events", StreamTaskAsync).WithTags("Events");
        return admin;
    }

    /// <summary>A tenant streams its own tasks' events only; the routes read (tenant read roles).</summary>
    public static RouteGroupBuilder MapTenantTaskEventEndpoints(this RouteGroupBuilder tenant)
    {
        tenant.MapGet("/events", StreamAsync).WithTags("Events");
        tenant.MapGet("/tasks/{taskId}/events", StreamTaskAsync).WithTags("Events");
        return tenant;
    }

    private static async Task<IResult> StreamAsync(HttpContext http, TaskEventStreams streams, ITaskEventLog log, TaskActionCatalog actions,
        CancellationToken cancellationToken, string? tenantId = null, string? taskId = null, string? action = null, string? status = null,
        string? lastEventId = null, string? after = null)
    {
        var caller = Caller.From(http.User);
        var fields = new QueryFields();
        var cursor = Cursor(http, fields, lastEventId, after);
        Guid? task = null;
        if (!caller.IsAdmin)
            (tenantId, taskId) = (caller.TenantId, null);
        if (tenantId is not null && !Identifiers.IsTenantId(tenantId))
            fields.Errors["tenantId"] = [$"must match {Identifiers.TenantIdRule}"];
        if (taskId is not null)
        {
            if (Identifiers.TryParseId(taskId, out var id))
                task = id;
            else
                fields.Errors["taskId"] = ["must be a task id (a GUID)"];
        }
        if (action is not null && !actions.TryGet(action, out _))
            fields.Errors["action"] = [$"must be one of {string.Join(", ", actions.Names)}"];
        if (status is not null && !TaskStatuses.All.Contains(status))
            fields.Errors["status"] = [$"must be one of {string.Join(", ", TaskStatuses.All)}"];
        if (fields.Errors.Count > 0)
            return Problems.Validation(fields.Errors);

        var newest = await log.LastSequenceAsync(cancellationToken);
        if (Beyond(fields, cursor, newest) is { } problem)
            return problem;
        return streams.Open(http, caller, new TaskEventFilter(tenantId, task, action, status), cursor.Sequence ?? newest, endAtFinal: false, endWhenCaughtUp: false);
    }

    private static async Task<IResult> StreamTaskAsync(string taskId, HttpContext http, TaskEventStreams streams, ITaskStore store, ITaskEventLog log,
        CancellationToken cancellationToken, string? lastEventId = null, string? after = null)
    {
        var caller = Caller.From(http.User);
        if (await store.FindAsync(taskId, caller, cancellationToken) is not { } task)
            return VisibleTasks.NotFound(taskId);
        var id = task.CorrelationId;
        var fields = new QueryFields();
        var cursor = Cursor(http, fields, lastEventId, after);
        if (fields.Errors.Count > 0)
            return Problems.Validation(fields.Errors);
        if (Beyond(fields, cursor, await log.LastSequenceAsync(cancellationToken)) is { } problem)
            return problem;

        var filter = new TaskEventFilter(task.TenantId, id, null, null);
        // Its final event is committed with its final status, so an ended task's log is complete.
        var ended = TaskStatuses.IsFinal(task.Status);
        // Nothing left to send of an ended task: 204 tells an EventSource to stop reconnecting.
        if (ended && (await log.ReadAsync(filter.After(cursor.Sequence ?? 0, 1), cancellationToken)).Count == 0)
            return Results.NoContent();
        return streams.Open(http, caller, filter, cursor.Sequence ?? 0, endAtFinal: true, endWhenCaughtUp: ended);
    }

    /// <summary>Where the client resumes: the <c>Last-Event-ID</c> header (an EventSource's reconnect) before the query's values.</summary>
    private static (string? Field, long? Sequence) Cursor(HttpContext http, QueryFields fields, string? lastEventId, string? after)
    {
        var header = http.Request.Headers[LastEventIdHeader].ToString();
        var (name, value) = header.Length > 0 ? (LastEventIdHeader, header)
            : lastEventId is not null ? (nameof(lastEventId), lastEventId)
            : after is not null ? (nameof(after), after)
            : (null, null);
        if (name is null)
            return (null, null);
        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
            return (name, sequence);
        fields.Errors[name] = ["must be an event id: a non-negative integer"];
        return (name, null);
    }

    /// <summary>An id the log has not reached yet is not one this server sent: resuming there would skip what comes before it.</summary>
    private static IResult? Beyond(QueryFields fields, (string? Field, long? Sequence) cursor, long newest)
    {
        if (cursor is not { Field: { } field, Sequence: { } sequence } || sequence <= newest)
            return null;
        fields.Errors[field] = [$"is beyond the newest event ({newest})"];
        return Problems.Validation(fields.Errors);
    }
}
