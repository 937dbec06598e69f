# _inventory (internal, not an action): the canonical host inventory, wire-compatible with the
# original OpenHVX "inventory" document:
#   {schemaVersion, collectedAt, host{hostname, os, cpu{sockets, cores, threads, model}, memoryMb},
#    networks[{name, switchType}], datastores[{id, name, kind, path, sizeBytes, freeBytes}],
#    vms[{id, name, powerState, cpu{vcpus}, memoryMb, disks[{path, sizeBytes}], nics[{switchName, macAddress}]}]}
# Runs unchanged on real Hyper-V and against the simulated module. Values that cannot be read
# (CPU details, a disk's size, a volume's size) are null rather than errors; VMs removed while
# the inventory runs are left out.
param(
    [Parameter(Mandatory)][string]$BasePath
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'OpenHvx.Agent.psm1')

if (-not [System.IO.Path]::IsPathFullyQualified($BasePath)) {
    throw (New-OpenHvxError 'ERR_INVALID_ARGUMENT' 'BasePath must be an absolute path.')
}
$base = [System.IO.Path]::TrimEndingDirectorySeparator([System.IO.Path]::GetFullPath($BasePath))
# Taken before anything is read: the orchestrator compares it with the finish time of each task that changed a VM. A VM a task
# finished while this runs may be missing from the list; stamped at the end, it would look deleted and its quota be released.
$collectedAt = [DateTime]::UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", [System.Globalization.CultureInfo]::InvariantCulture)
$simulated = $null -ne (Get-Command -Name Get-OpenHvxSimulatedDatastore -ErrorAction Ignore)

function Get-CpuInfo($VMHost) {
    if ($simulated -or -not $IsWindows) {
        $lp = [int]$VMHost.LogicalProcessorCount
        $model = $null
        if (Get-Command -Name Get-OpenHvxSimulatedHost -ErrorAction Ignore) { $model = (Get-OpenHvxSimulatedHost).CpuModel }
        return [ordered]@{ sockets = 1; cores = $lp; threads = $lp; model = $model }
    }
    # One Win32_Processor instance per socket.
    try {
        $procs = @(Get-CimInstance -ClassName Win32_Processor -ErrorAction Stop)
        if ($procs.Count -eq 0) { throw 'no Win32_Processor instances' }
        $cores = [int]0
        $threads = [int]0
        foreach ($p in $procs) {
            $cores += [int]$p.NumberOfCores
            $threads += [int]$p.NumberOfLogicalProcessors
        }
        $model = ([string]$procs[0].Name).Trim()
        return [ordered]@{
            sockets = $procs.Count
            cores   = $cores
            threads = $threads
            model   = $(if ($model) { $model } else { $null })
        }
    }
    catch [System.Management.Automation.PipelineStoppedException] { throw }
    catch {
        Write-Warning "inventory: CPU details unavailable: $($_.Exception.Message)"
        return [ordered]@{ sockets = $null; cores = $null; threads = $null; model = $null }
    }
}

function Get-Datastore {
    if ($simulated) {
        $ds = Get-OpenHvxSimulatedDatastore
        return [ordered]@{
            id        = 'default'
            name      = [string]$ds.Name
            kind      = 'simulated'
            path      = $base
            sizeBytes = [long]$ds.capacityMB * 1MB
            freeBytes = [long]$ds.freeMB * 1MB
        }
    }
    $volume = Get-OpenHvxPathVolume $base
    [ordered]@{
        id        = 'default'
        name      = $(if ($null -ne $volume) { [string]$volume.Name } else { $base })
        kind      = 'local'
        path      = $base
        sizeBytes = $(if ($null -ne $volume) { [long]$volume.TotalSize } else { $null })
        freeBytes = $(if ($null -ne $volume) { [long]$volume.AvailableFreeSpace } else { $null })
    }
}

function Get-DiskSize([string]$Path) {
    if ([string]::IsNullOrEmpty($Path)) { return $null }   # e.g. a pass-through disk
    try { return [long](Get-VHD -Path $Path -ErrorAction Stop).Size }
    catch [System.Management.Automation.PipelineStoppedException] { throw }
    catch { return $null }
}

$vmHost = Get-VMHost

$networks = [System.Collections.Generic.List[object]]::new()
foreach ($sw in @(Get-VMSwitch | Sort-Object -Property Name)) {
    $networks.Add([ordered]@{ name = [string]$sw.Name; switchType = [string]$sw.SwitchType })
}

$vmList = [System.Collections.Generic.List[object]]::new()
foreach ($vm in @(Get-VM | Sort-Object -Property Name, Id)) {
    try { $adapters = @(Get-VMNetworkAdapter -VM $vm -ErrorAction Stop) }
    catch [System.Management.Automation.PipelineStoppedException] { throw }
    catch {
        if ($null -eq (Get-VM -Id $vm.Id -ErrorAction SilentlyContinue)) { continue }   # removed meanwhile
        throw
    }
    $nics = [System.Collections.Generic.List[object]]::new()
    foreach ($a in $adapters) {
        $switchName = [string]$a.SwitchName
        $nics.Add([ordered]@{
                switchName = $(if ($switchName) { $switchName } else { $null })
                macAddress = [string]$a.MacAddress
            })
    }
    $disks = [System.Collections.Generic.List[object]]::new()
    foreach ($d in @($vm.HardDrives)) {
        if ($null -eq $d) { continue }
        $path = [string]$d.Path
        $disks.Add([ordered]@{
                path      = $(if ($path) { $path } else { $null })
                sizeBytes = Get-DiskSize $path
            })
    }
    $vmList.Add([ordered]@{
            id         = $vm.Id.ToString()
            name       = [string]$vm.Name
            powerState = ConvertTo-OpenHvxPowerState $vm.State
            cpu        = [ordered]@{ vcpus = [int]$vm.ProcessorCount }
            memoryMb   = [long][math]::Floor([long]$vm.MemoryStartup / 1MB)
            disks      = $disks.ToArray()
            nics       = $nics.ToArray()
        })
}

ConvertTo-OpenHvxJson ([ordered]@{
        schemaVersion = '1.0.0'
        collectedAt   = $collectedAt
        host          = [ordered]@{
            hostname = [string]$vmHost.ComputerName
            os       = [System.Runtime.InteropServices.RuntimeInformation]::OSDescription
            cpu      = Get-CpuInfo $vmHost
            memoryMb = [long][math]::Floor([long]$vmHost.MemoryCapacity / 1MB)
        }
        networks      = $networks.ToArray()
        datastores    = @(Get-Datastore)
        vms           = $vmList.ToArray()
    })
