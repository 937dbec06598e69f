# _host.status (internal, not an action): host capacity, storage of the agent's base folder,
# resources assigned to VMs, and the VM list, for heartbeats and inventory.
param(
    [Parameter(Mandatory)][string]$BasePath
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'OpenHvx.Agent.psm1')

function Get-BasePathStorage([string]$Path) {
    $volume = Get-OpenHvxPathVolume -Path $Path
    if ($null -eq $volume) { return [ordered]@{ capacityMB = $null; freeMB = $null } }
    [ordered]@{
        capacityMB = [long][math]::Floor($volume.TotalSize / 1MB)
        freeMB     = [long][math]::Floor($volume.AvailableFreeSpace / 1MB)
    }
}

$vmHost = Get-VMHost
$vms = @(Get-VM)

if (Get-Command -Name Get-OpenHvxSimulatedDatastore -ErrorAction Ignore) {
    $ds = Get-OpenHvxSimulatedDatastore
    $storage = [ordered]@{ capacityMB = [long]$ds.capacityMB; freeMB = [long]$ds.freeMB }
}
else {
    $storage = Get-BasePathStorage $BasePath
}

$vmList = [System.Collections.Generic.List[object]]::new()
$assignedCpu = [long]0
$assignedMemoryBytes = [long]0
foreach ($vm in $vms) {
    $assignedCpu += [long]$vm.ProcessorCount
    $assignedMemoryBytes += [long]$vm.MemoryStartup
    $vmList.Add([ordered]@{
            id         = $vm.Id.ToString()
            name       = [string]$vm.Name
            powerState = [string]$vm.State   # real Hyper-V: an enum; as a string it reads 'Running', 'Off', ...
            cpu        = [ordered]@{ vcpus = [int]$vm.ProcessorCount }
            memoryMb   = [long][math]::Floor([long]$vm.MemoryStartup / 1MB)
        })
}

ConvertTo-OpenHvxJson ([ordered]@{
        host     = [ordered]@{
            hostname          = [string]$vmHost.ComputerName
            os                = [System.Runtime.InteropServices.RuntimeInformation]::OSDescription
            logicalProcessors = [int]$vmHost.LogicalProcessorCount
            memoryMB          = [long][math]::Floor([long]$vmHost.MemoryCapacity / 1MB)
        }
        storage  = $storage
        assigned = [ordered]@{
            cpu      = $assignedCpu
            memoryMB = [long][math]::Floor($assignedMemoryBytes / 1MB)
        }
        vms      = $vmList.ToArray()
    })
