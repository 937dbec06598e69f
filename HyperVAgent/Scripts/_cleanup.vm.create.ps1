# _cleanup.vm.create (internal): after the agent died in the middle of a vm.create, removes what
# that task built (the VM in the task's folder, its disks and seed), so that nothing on the host
# is left untracked when the task is reported interrupted. Idempotent: nothing built, nothing done.
param(
    [Parameter(Mandatory)][string]$TaskId,
    [Parameter(Mandatory)][string]$TenantId,
    [Parameter(Mandatory)][string]$BasePath
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'OpenHvx.Agent.psm1')

foreach ($segment in @($TaskId, $TenantId)) {
    if (-not (Test-OpenHvxPathSegment $segment)) { throw (New-OpenHvxError 'ERR_INVALID_ARGUMENT' "Invalid path segment: $segment" 'InvalidArgument') }
}
$base = [System.IO.Path]::GetFullPath($BasePath)
$taskDir = [System.IO.Path]::GetFullPath((Join-Path (Join-Path (Join-Path $base 'vms') $TenantId) $TaskId))

$removed = [System.Collections.Generic.List[string]]::new()
# Only a VM whose folder is this task's folder: never a VM another task (or tenant) built.
foreach ($vm in @(Get-VM | Where-Object { $_.Path -and (Test-OpenHvxPathUnder ([System.IO.Path]::GetFullPath([string]$_.Path)) $taskDir) })) {
    if ($vm.State -ne 'Off') { Stop-VM -VM $vm -TurnOff -Force | Out-Null }
    Remove-VM -VM $vm -Force | Out-Null
    $removed.Add([string]$vm.Id)
}
$hadFolder = [System.IO.Directory]::Exists($taskDir)
if ($hadFolder) { Remove-OpenHvxDirectory $taskDir }

ConvertTo-OpenHvxJson ([ordered]@{ removedVms = @($removed); removedFolder = if ($hadFolder) { $taskDir } else { $null } })
