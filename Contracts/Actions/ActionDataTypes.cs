namespace OpenHvx.Contracts.Actions;

/// <summary>Each action's data record: the one schema the API validates with and the OpenAPI document, the CLI and the console show.</summary>
public static class ActionDataTypes
{
    public static readonly IReadOnlyDictionary<string, Type> ByAction = new Dictionary<string, Type>(StringComparer.Ordinal)
    {
        [ActionNames.VmCreate] = typeof(VmCreateData),
        [ActionNames.VmEdit] = typeof(VmEditData),
        [ActionNames.VmPower] = typeof(VmPowerData),
        [ActionNames.VmDelete] = typeof(VmDeleteData),
        [ActionNames.InventoryRefresh] = typeof(InventoryRefreshData),
    };

    public static Type Of(string action) => ByAction.TryGetValue(action, out var type) ? type : throw new ArgumentException($"No data record for action '{action}'.", nameof(action));
}
