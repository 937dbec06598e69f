using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OpenHvx.Contracts;
using OpenHvx.ServiceDefaults;

namespace OpenHvx.Orchestrator.DeadLetters;

public static class DeadLetterEndpoints
{
    public static RouteGroupBuilder MapAdminDeadLetterEndpoints(this RouteGroupBuilder admin)
    {
        var letters = admin.MapGroup("/dead-letters").WithTags("Dead letters");
        letters.MapGet("", ListAsync);
        letters.MapPost("/{id}/replay", ReplayAsync);
        return admin;
    }

    private static async Task<IResult> ListAsync(IDeadLetterStore store, CancellationToken cancellationToken,
        string? taskId = null, string? limit = null, string? offset = null)
    {
        var query = new Api.QueryFields();
        var errors = query.Errors;
        Guid? task = null;
        if (taskId is not null)
        {
            if (Identifiers.TryParseId(taskId, out var parsed))
                task = parsed;
            else
                errors["taskId"] = ["must be a task id (a GUID)"];
        }
        var (take, skip) = query.Paging(limit, offset);
        if (errors.Count > 0)
            return Problems.Validation(errors);

        var items = (await store.ListAsync(task, take, skip, cancellationToken)).Select(DeadLetterView.From).ToList();
        return Results.Ok(new { items, offset = skip, limit = take, nextOffset = items.Count == take ? skip + take : (int?)null });
    }

    private static async Task<IResult> ReplayAsync(string id, DeadLetterReplay replay, CancellationToken cancellationToken)
    {
        if (!Identifiers.TryParseId(id, out var letterId))
            return Problems.Result(ErrorCodes.NotFound, $"Dead letter '{id}' was not found.");
        var (letter, refusal) = await replay.ReplayAsync(letterId, cancellationToken);
        return refusal is null
            ? Results.Ok(DeadLetterView.From(letter!))
            : Problems.Result(refusal.Code, refusal.Message, status: refusal.Status);
    }
}
