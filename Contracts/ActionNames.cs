namespace OpenHvx.Contracts;

/// <summary>Task actions, named as on the wire and as the agent's script files.</summary>
public static class ActionNames
{
    public const string VmCreate = "vm.create";
    public const string VmDelete = "vm.delete";
    public const string VmEdit = "vm.edit";
    public const string VmPower = "vm.power";
    public const string InventoryRefresh = "inventory.refresh";
}
