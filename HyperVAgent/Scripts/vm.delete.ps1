# vm.delete: deletes one of the tenant's VMs. Runs unchanged against real Hyper-V and the
# simulated module. Parameters are literal data; the VM is addressed by Id only.
#
# 1. No VM with this id: success {"vm":{"guid","alreadyGone":true}} (a retried delete succeeds).
#    A VM with this id that is not the tenant's ("<TenantId>." name prefix): ERR_VM_NOT_FOUND.
# 2. Not Off: guest shutdown bounded by ShutdownTimeoutSeconds (a Paused VM is resumed first);
#    still not Off then: turned off when ForceStop, else ERR_STOP_TIMEOUT and nothing is deleted.
#    A Saved VM is turned off only with ForceStop (its saved state is discarded).
# 3. Remove-VM, then its disk files: deleted with DeleteDisks, else moved to
#    <BasePath>/trash/<TenantId>/<VmId>-<yyyyMMddHHmmss UTC>/. Only files inside the tenant's
#    folder <BasePath>/vms/<TenantId>/ are touched; any other disk (e.g. shared, or an image) is
#    left where it is ("kept").
# 4. The VM's folder (<BasePath>/vms/<TenantId>/<folder> holding its Path) is deleted, unless
#    another VM still uses it. Nothing outside that folder and the trash is ever written.
param(
    [Parameter(Mandatory)][string]$TaskId,
    [Parameter(Mandatory)][string]$TenantId,
    [Parameter(Mandatory)][string]$VmId,
    [Parameter(Mandatory)][string]$BasePath,
    [bool]$ForceStop = $false,
    [bool]$DeleteDisks = $false,
    [ValidateRange(0, 3600)][int]$ShutdownTimeoutSeconds = 120
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'OpenHvx.Agent.psm1')

function Stop-Invalid([string]$Message) { throw (New-OpenHvxError 'ERR_INVALID_ARGUMENT' $Message) }

#region Validate before touching the host

if (-not (Test-OpenHvxPathSegment $TenantId)) { Stop-Invalid 'TenantId must be 1-128 characters of A-Z a-z 0-9 . _ - (it names a folder).' }
$id = ConvertTo-OpenHvxVMId $VmId
if (-not [System.IO.Path]::IsPathFullyQualified($BasePath)) { Stop-Invalid 'BasePath must be an absolute path.' }
$base = [System.IO.Path]::TrimEndingDirectorySeparator([System.IO.Path]::GetFullPath($BasePath))
$tenantDir = Join-Path (Join-Path $base 'vms') $TenantId

#endregion

$diskExtensions = '.vhdx', '.vhd', '.avhdx', '.avhd'
$pathComparison = if ($IsWindows) { [System.StringComparison]::OrdinalIgnoreCase } else { [System.StringComparison]::Ordinal }

# Retries briefly: Hyper-V can hold a file for a moment after Remove-VM.
function Invoke-FileRetry([scriptblock]$Action) {
    for ($i = 0; ; $i++) {
        try { & $Action; return }
        catch [System.IO.IOException], [System.UnauthorizedAccessException] {
            if ($i -ge 9) { throw }
            Start-Sleep -Milliseconds 300
        }
    }
}

# The folder directly under the tenant's folder that holds $Path, or $null.
function Get-TenantSubfolder([string]$Path) {
    if ([string]::IsNullOrEmpty($Path)) { return $null }
    $full = [System.IO.Path]::TrimEndingDirectorySeparator([System.IO.Path]::GetFullPath($Path))
    if ($full.Equals($tenantDir, $pathComparison) -or -not (Test-OpenHvxPathUnder $full $tenantDir)) { return $null }
    $first = $full.Substring($tenantDir.Length + 1).Split([char[]]@([System.IO.Path]::DirectorySeparatorChar, [System.IO.Path]::AltDirectorySeparatorChar))[0]
    if ($first -in '', '.', '..') { return $null }
    return (Join-Path $tenantDir $first)
}

$vm = Find-OpenHvxVM $id
if ($null -eq $vm) {
    ConvertTo-OpenHvxJson ([ordered]@{ vm = [ordered]@{ guid = $id.ToString(); alreadyGone = $true } })
    return
}
if (-not (Test-OpenHvxTenantVM $vm $TenantId)) {
    throw (New-OpenHvxError 'ERR_VM_NOT_FOUND' "virtual machine not found: $id" 'ObjectNotFound')
}
$name = Get-OpenHvxTenantVMName $vm $TenantId
$hostName = [string]$vm.Name

$stopMethod = Stop-OpenHvxVM -VM $vm -TimeoutSeconds $ShutdownTimeoutSeconds -Force $ForceStop -ForceName 'forceStop' -Operation 'delete'

$vm = Get-VM -Id $id
$diskPaths = [System.Collections.Generic.List[string]]::new()
foreach ($drive in @(Get-VMHardDiskDrive -VM $vm)) {
    $p = [string]$drive.Path
    if ([string]::IsNullOrEmpty($p)) { continue }   # pass-through disk: no file
    $full = [System.IO.Path]::GetFullPath($p)
    if (-not ($diskPaths | Where-Object { $_.Equals($full, $pathComparison) })) { $diskPaths.Add($full) }
}
$vmFolder = Get-TenantSubfolder ([string]$vm.Path)

Remove-VM -VM $vm -Force

# What the remaining VMs use: never move or delete those files, nor their folders.
$otherVMs = @(Get-VM)
$inUse = [System.Collections.Generic.List[string]]::new()
foreach ($other in $otherVMs) {
    if ($other.Path) { $inUse.Add([System.IO.Path]::GetFullPath([string]$other.Path)) }
    foreach ($d in @($other.HardDrives)) { if ($null -ne $d -and $d.Path) { $inUse.Add([System.IO.Path]::GetFullPath([string]$d.Path)) } }
}

# Disk files left in the VM's folder (e.g. a checkpoint chain's base disk) are the VM's too: with
# DeleteDisks they go with the folder, without it they are kept in the trash like the others.
if ($null -ne $vmFolder -and -not $DeleteDisks -and [System.IO.Directory]::Exists($vmFolder)) {
    foreach ($f in [System.IO.Directory]::EnumerateFiles($vmFolder, '*', [System.IO.SearchOption]::AllDirectories)) {
        if ([System.IO.Path]::GetExtension($f).ToLowerInvariant() -notin $diskExtensions) { continue }
        if (-not ($diskPaths | Where-Object { $_.Equals($f, $pathComparison) })) { $diskPaths.Add($f) }
    }
}

$stamp = [DateTime]::UtcNow.ToString('yyyyMMddHHmmss', [System.Globalization.CultureInfo]::InvariantCulture)
$trashParent = Join-Path (Join-Path $base 'trash') $TenantId
$trashDir = $null
$disks = [System.Collections.Generic.List[object]]::new()
foreach ($path in $diskPaths) {
    $entry = [ordered]@{ path = $path; action = $null; trashedTo = $null }
    $disks.Add($entry)
    if ($null -eq (Get-TenantSubfolder $path) -or ($inUse | Where-Object { $_.Equals($path, $pathComparison) })) { $entry.action = 'kept'; continue }
    if (-not [System.IO.File]::Exists($path)) { $entry.action = 'missing'; continue }
    if ($DeleteDisks) {
        Invoke-FileRetry { [System.IO.File]::Delete($path) }
        $entry.action = 'deleted'
        continue
    }
    if ($null -eq $trashDir) {
        # One folder per deletion; a second deletion of the same id in the same second gets a suffix.
        $candidate = Join-Path $trashParent "$id-$stamp"
        for ($n = 1; [System.IO.Directory]::Exists($candidate); $n++) { $candidate = Join-Path $trashParent "$id-$stamp-$n" }
        [void][System.IO.Directory]::CreateDirectory($candidate)
        $trashDir = $candidate
    }
    $fileName = [System.IO.Path]::GetFileName($path)
    $target = Join-Path $trashDir $fileName
    for ($n = 1; [System.IO.File]::Exists($target); $n++) {
        $target = Join-Path $trashDir ('{0}-{1}{2}' -f [System.IO.Path]::GetFileNameWithoutExtension($fileName), $n, [System.IO.Path]::GetExtension($fileName))
    }
    Invoke-FileRetry { [System.IO.File]::Move($path, $target) }
    $entry.action = 'trashed'
    $entry.trashedTo = $target
}

$removedFolder = $null
if ($null -ne $vmFolder -and [System.IO.Directory]::Exists($vmFolder)) {
    # Never delete a folder another VM still lives in or takes disks from.
    $used = @($inUse | Where-Object { Test-OpenHvxPathUnder $_ $vmFolder })
    if ($used.Count -eq 0) {
        Remove-OpenHvxDirectory $vmFolder
        $removedFolder = $vmFolder
    }
    else { Write-Warning "vm.delete: kept $vmFolder, another VM still uses $($used[0])" }
}

ConvertTo-OpenHvxJson ([ordered]@{
        vm = [ordered]@{
            guid          = $id.ToString()
            name          = $name
            hostName      = $hostName
            deleted       = $true
            alreadyGone   = $false
            stopMethod    = $(if ($stopMethod -eq 'none') { $null } else { $stopMethod })
            disks         = $disks.ToArray()
            trashPath     = $trashDir
            removedFolder = $removedFolder
        }
    })
