using System.ComponentModel;

namespace OpenHvx.Contracts.Actions;

/// <summary>The data of <c>inventory.refresh</c>: none.</summary>
[Description("Asks a host for its inventory (admins; target.kind host).")]
public sealed record InventoryRefreshData;
