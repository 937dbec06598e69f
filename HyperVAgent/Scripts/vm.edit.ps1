# vm.edit: changes one of the tenant's VMs. Runs unchanged against real Hyper-V and the simulated
# module. Parameters are literal data; the VM is addressed by Id only. Parameters left out (or
# empty strings) are not changed; values equal to the current ones are no change.
#
#   Cpu                processor count (1-64)                         needs the VM Off
#   MemoryMB           startup memory (even, 32-12582912)             needs the VM Off
#   DynamicMemoryJson  {"enabled":bool,"min":MB,"max":MB}, each key optional; turning dynamic
#                      memory on or off needs the VM Off, as do raising min or lowering max while
#                      it is on; min/max need dynamic memory on (min <= startup <= max)
#   NewName            tenant-side name: the host name becomes "<TenantId>.<NewName>" (unique on
#                      the host, case-sensitive, else ERR_NAME_TAKEN); works while running
#   SwitchName         connects every network adapter to this switch; works while running
#
# When a change needs the VM Off and it is Running, the guest is shut down (bounded by
# ShutdownTimeoutSeconds; turned off after that only with ForceStop, else ERR_STOP_TIMEOUT and
# nothing is changed), the changes are applied, and the VM is started again. A Paused or Saved
# VM is refused (ERR_INVALID_STATE) for such changes. Everything is validated before the VM is
# touched.
param(
    [Parameter(Mandatory)][string]$TaskId,
    [Parameter(Mandatory)][string]$TenantId,
    [Parameter(Mandatory)][string]$VmId,
    [string]$BasePath,
    [ValidateRange(1, 64)][int]$Cpu,
    [long]$MemoryMB,
    [string]$NewName,
    [string]$SwitchName,
    [string]$DynamicMemoryJson,
    [ValidateRange(0, 3600)][int]$ShutdownTimeoutSeconds = 120,
    [bool]$ForceStop = $false
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'OpenHvx.Agent.psm1')

function Stop-Invalid([string]$Message) { throw (New-OpenHvxError 'ERR_INVALID_ARGUMENT' $Message) }

function Test-MemoryMB([long]$Value) { $Value -ge 32 -and $Value -le 12TB / 1MB -and ($Value % 2) -eq 0 }

#region Validate the request

if (-not (Test-OpenHvxPathSegment $TenantId)) { Stop-Invalid 'TenantId must be 1-128 characters of A-Z a-z 0-9 . _ -.' }
$id = ConvertTo-OpenHvxVMId $VmId
$wantCpu = $PSBoundParameters.ContainsKey('Cpu')
$wantMemory = $PSBoundParameters.ContainsKey('MemoryMB')
if ($wantMemory -and -not (Test-MemoryMB $MemoryMB)) { Stop-Invalid 'MemoryMB must be an even number between 32 and 12582912 (Hyper-V allocates memory in 2 MB steps).' }
$wantName = -not [string]::IsNullOrEmpty($NewName)
if ($wantName) {
    if ($NewName -match '\p{Cc}') { Stop-Invalid 'The VM name must not contain control characters.' }
    if ("$TenantId.$NewName".Length -gt 100) { Stop-Invalid "The VM name is too long: '$TenantId.' plus the name must fit in 100 characters." }
}
$wantSwitch = -not [string]::IsNullOrEmpty($SwitchName)

$dmEnabled = $null; $dmMin = $null; $dmMax = $null
if (-not [string]::IsNullOrWhiteSpace($DynamicMemoryJson)) {
    try { $dm = ConvertFrom-Json -InputObject $DynamicMemoryJson -DateKind String }
    catch { Stop-Invalid "DynamicMemoryJson is not valid JSON: $($_.Exception.Message)" }
    if ($dm -isnot [System.Management.Automation.PSCustomObject]) { Stop-Invalid 'dynamicMemory must be a JSON object {"enabled":bool,"min":MB,"max":MB}.' }
    $p = $dm.PSObject.Properties['enabled']
    if ($null -ne $p -and $null -ne $p.Value) {
        if ($p.Value -isnot [bool]) { Stop-Invalid 'dynamicMemory.enabled must be true or false.' }
        $dmEnabled = $p.Value
    }
    foreach ($key in 'min', 'max') {
        $p = $dm.PSObject.Properties[$key]
        if ($null -eq $p -or $null -eq $p.Value) { continue }
        if (($p.Value -isnot [long] -and $p.Value -isnot [int]) -or -not (Test-MemoryMB $p.Value)) {
            Stop-Invalid "dynamicMemory.$key must be an even number of MB between 32 and 12582912."
        }
        if ($key -eq 'min') { $dmMin = [long]$p.Value } else { $dmMax = [long]$p.Value }
    }
}

$canonicalSwitch = $null
if ($wantSwitch) {
    # Exact, case-insensitive match over all switches (Get-VMSwitch -Name would read wildcards).
    $vmSwitch = @(Get-VMSwitch | Where-Object { $_.Name -eq $SwitchName }) | Select-Object -First 1
    if ($null -eq $vmSwitch) { throw (New-OpenHvxError 'ERR_SWITCH_MISSING' "virtual switch not found: $SwitchName" 'ObjectNotFound') }
    $canonicalSwitch = [string]$vmSwitch.Name
}

#endregion

#region Plan against the VM as it is

$vm = Get-OpenHvxTenantVM $id $TenantId
$state = ConvertTo-OpenHvxPowerState $vm.State

$curCpu = [int]$vm.ProcessorCount
$curStartup = [long]([long]$vm.MemoryStartup / 1MB)
$curDynamic = [bool]$vm.DynamicMemoryEnabled
$curMin = [long]([long]$vm.MemoryMinimum / 1MB)
$curMax = [long]([long]$vm.MemoryMaximum / 1MB)

$newStartup = if ($wantMemory) { $MemoryMB } else { $curStartup }
$newDynamic = if ($null -ne $dmEnabled) { $dmEnabled } else { $curDynamic }
$newMin = $curMin; $newMax = $curMax
if ($newDynamic) {
    # Unspecified bounds keep their value but widen to include the startup memory.
    $newMin = if ($null -ne $dmMin) { $dmMin } else { [math]::Min($curMin, $newStartup) }
    $newMax = if ($null -ne $dmMax) { $dmMax } else { [math]::Max($curMax, $newStartup) }
    if (-not ($newMin -le $newStartup -and $newStartup -le $newMax)) {
        Stop-Invalid "dynamic memory needs min <= startup <= max (got min $newMin MB, startup $newStartup MB, max $newMax MB)."
    }
}
elseif ($null -ne $dmMin -or $null -ne $dmMax) {
    Stop-Invalid 'dynamicMemory.min and .max need dynamic memory enabled ("enabled": true).'
}

$cpuChange = $wantCpu -and $Cpu -ne $curCpu
if ($cpuChange) {
    $hostProcessors = [int](Get-VMHost).LogicalProcessorCount
    if ($Cpu -gt $hostProcessors) { Stop-Invalid "Cpu must not exceed the host's $hostProcessors logical processors." }
}
$startupChange = $newStartup -ne $curStartup
$dynamicToggle = $newDynamic -ne $curDynamic
$minChange = $newDynamic -and $newMin -ne $curMin
$maxChange = $newDynamic -and $newMax -ne $curMax
$memoryChange = $startupChange -or $dynamicToggle -or $minChange -or $maxChange

$oldHostName = [string]$vm.Name
$newHostName = if ($wantName) { "$TenantId.$NewName" } else { $oldHostName }
$nameChange = $newHostName -cne $oldHostName

$adapters = @()
$switchChange = $false
if ($wantSwitch) {
    $adapters = @(Get-VMNetworkAdapter -VM $vm)
    if ($adapters.Count -eq 0) { Stop-Invalid 'The VM has no network adapter to connect to a switch.' }
    $switchChange = @($adapters | Where-Object { [string]$_.SwitchName -cne $canonicalSwitch }).Count -gt 0
}

# Live changes: rename, switch, lowering min / raising max of dynamic memory that stays on.
$needsOff = $cpuChange -or $startupChange -or $dynamicToggle -or
    ($curDynamic -and $newDynamic -and (($minChange -and $newMin -gt $curMin) -or ($maxChange -and $newMax -lt $curMax)))
if ($needsOff -and $state -notin 'Off', 'Running') {
    throw (New-OpenHvxError 'ERR_INVALID_STATE' "cannot change cpu or memory: the VM is $state; start or turn it off first" 'InvalidOperation')
}

# The name is checked now so that a taken name fails before the VM is stopped, and again when
# renaming, under the lock vm.create takes for the same name.
function Test-NameTaken { @(Get-VM | Where-Object { $_.Name -ceq $newHostName -and $_.Id -ne $id }).Count -gt 0 }
if ($nameChange -and (Test-NameTaken)) {
    throw (New-OpenHvxError 'ERR_NAME_TAKEN' "A VM named '$NewName' already exists for this tenant." 'ResourceExists')
}

#endregion

$changed = [System.Collections.Generic.List[string]]::new()
$restarted = $false
$stopped = $false
$applied = $false
if ($needsOff -and $state -eq 'Running') {
    [void](Stop-OpenHvxVM -VM $vm -TimeoutSeconds $ShutdownTimeoutSeconds -Force $ForceStop -ForceName 'forceStop' -Operation 'apply the change')
    $stopped = $true
}
try {
    $vm = Get-VM -Id $id
    if ($cpuChange) {
        Set-VMProcessor -VM $vm -Count $Cpu
        $changed.Add('cpu')
    }
    if ($memoryChange) {
        $memory = @{}
        if ($dynamicToggle) { $memory.DynamicMemoryEnabled = $newDynamic }
        if ($startupChange) { $memory.StartupBytes = $newStartup * 1MB }
        if ($minChange) { $memory.MinimumBytes = $newMin * 1MB }
        if ($maxChange) { $memory.MaximumBytes = $newMax * 1MB }
        Set-VMMemory -VM $vm @memory
        if ($startupChange) { $changed.Add('memoryMB') }
        if ($dynamicToggle -or $minChange -or $maxChange) { $changed.Add('dynamicMemory') }
    }
    if ($nameChange) {
        $nameHash = [System.Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData([System.Text.Encoding]::UTF8.GetBytes($newHostName)))
        $nameMutex = [System.Threading.Mutex]::new($false, "OpenHvx.VMName.$nameHash")
        $ownsMutex = $false
        try {
            $ownsMutex = Wait-OpenHvxMutex $nameMutex
            if (Test-NameTaken) { throw (New-OpenHvxError 'ERR_NAME_TAKEN' "A VM named '$NewName' already exists for this tenant." 'ResourceExists') }
            Rename-VM -VM $vm -NewName $newHostName
        }
        finally {
            if ($ownsMutex) { $nameMutex.ReleaseMutex() }
            $nameMutex.Dispose()
        }
        $changed.Add('name')
    }
    if ($switchChange) {
        Get-VMNetworkAdapter -VM $vm | Connect-VMNetworkAdapter -SwitchName $canonicalSwitch
        $changed.Add('switch')
    }
    $applied = $true
}
finally {
    # Started again even when a change failed: the VM was running before this task.
    if ($stopped) {
        try {
            Start-VM -VM (Get-VM -Id $id)
            $restarted = $true
        }
        catch {
            if ($applied) {
                throw (New-OpenHvxError 'ERR_RESTART_FAILED' ("applied {0} but the VM could not be started again: {1}" -f ($changed -join ', '), $_.Exception.Message) 'InvalidOperation')
            }
            Write-Warning "vm.edit: could not start the VM again: $($_.Exception.Message)"
        }
    }
}

$final = Get-VM -Id $id
$finalDynamic = [bool]$final.DynamicMemoryEnabled
$finalSwitch = @(Get-VMNetworkAdapter -VM $final | ForEach-Object { [string]$_.SwitchName } | Where-Object { $_ }) | Select-Object -First 1
ConvertTo-OpenHvxJson ([ordered]@{
        vm = [ordered]@{
            guid          = $final.Id.ToString()
            name          = Get-OpenHvxTenantVMName $final $TenantId
            hostName      = [string]$final.Name
            cpu           = [int]$final.ProcessorCount
            memoryMB      = [long]([long]$final.MemoryStartup / 1MB)
            dynamicMemory = [ordered]@{
                enabled = $finalDynamic
                min     = $(if ($finalDynamic) { [long]([long]$final.MemoryMinimum / 1MB) } else { $null })
                max     = $(if ($finalDynamic) { [long]([long]$final.MemoryMaximum / 1MB) } else { $null })
            }
            'switch'      = $finalSwitch
            state         = ConvertTo-OpenHvxPowerState $final.State
            changed       = $changed.ToArray()
            restarted     = $restarted
        }
    })
