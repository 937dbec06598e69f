namespace OpenHvx.Orchestrator.Tasks;

/// <summary>A page of the task list, newest first, as the caller may see them; <see cref="NextOffset"/> is null on the last page.</summary>
public sealed record TaskPage<TView>(IReadOnlyList<TView> Items, int Offset, int Limit, int? NextOffset);
