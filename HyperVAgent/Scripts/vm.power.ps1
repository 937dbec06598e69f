# vm.power: changes the power state of one of the tenant's VMs. Runs unchanged against real
# Hyper-V and the simulated module. Parameters are literal data; the VM is addressed by Id only.
#
#   start    Off/Saved -> Running (a Saved VM resumes from its saved state)
#   stop     guest shutdown bounded by TimeoutSeconds (a Paused VM is resumed first); still not
#            Off then: turned off when Force, else ERR_STOP_TIMEOUT. Saved: only with Force
#            (discards the saved state)
#   turnoff  hard power-off (Running, Paused or Saved)
#   restart  stop as above, then start (Running or Paused)
#   reset    hard reset (Running)
#   pause    Running -> Paused
#   resume   Paused -> Running, Saved -> Running
#   save     Running/Paused -> Saved
# Already in the target state (start on Running, stop/turnoff on Off, pause on Paused, save on
# Saved): success with changed = false. Any other transition: ERR_INVALID_STATE.
param(
    [Parameter(Mandatory)][string]$TaskId,
    [Parameter(Mandatory)][string]$TenantId,
    [Parameter(Mandatory)][string]$VmId,
    [Parameter(Mandatory)][ValidateSet('start', 'stop', 'turnoff', 'restart', 'reset', 'pause', 'resume', 'save')][string]$State,
    [bool]$Force = $false,
    [ValidateRange(0, 3600)][int]$TimeoutSeconds = 120,
    [string]$BasePath
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'OpenHvx.Agent.psm1')

if (-not (Test-OpenHvxPathSegment $TenantId)) { throw (New-OpenHvxError 'ERR_INVALID_ARGUMENT' 'TenantId must be 1-128 characters of A-Z a-z 0-9 . _ -.') }
$id = ConvertTo-OpenHvxVMId $VmId
$requested = $State.ToLowerInvariant()

$vm = Get-OpenHvxTenantVM $id $TenantId
$previous = ConvertTo-OpenHvxPowerState $vm.State

function Stop-Invalid([string]$Hint) {
    $message = "cannot ${requested}: the VM is $previous"
    if ($Hint) { $message += "; $Hint" }
    throw (New-OpenHvxError 'ERR_INVALID_STATE' $message 'InvalidOperation')
}

$changed = $true
$stopMethod = $null
switch ($requested) {
    'start' {
        switch ($previous) {
            'Running' { $changed = $false }
            { $_ -in 'Off', 'Saved' } { Start-VM -VM $vm }
            'Paused' { Stop-Invalid 'use resume' }
            default { Stop-Invalid }
        }
    }
    'stop' {
        if ($previous -eq 'Off') { $changed = $false }
        else { $stopMethod = Stop-OpenHvxVM -VM $vm -TimeoutSeconds $TimeoutSeconds -Force $Force -ForceName 'force' -Operation 'stop' }
    }
    'turnoff' {
        switch ($previous) {
            'Off' { $changed = $false }
            { $_ -in 'Running', 'Paused', 'Saved' } { Stop-VM -VM $vm -TurnOff -Force; $stopMethod = 'turnoff' }
            default { Stop-Invalid }
        }
    }
    'restart' {
        if ($previous -notin 'Running', 'Paused') { Stop-Invalid $(if ($previous -in 'Off', 'Saved') { 'use start' }) }
        $stopMethod = Stop-OpenHvxVM -VM $vm -TimeoutSeconds $TimeoutSeconds -Force $Force -ForceName 'force' -Operation 'restart'
        Start-VM -VM (Get-VM -Id $id)
    }
    'reset' {
        if ($previous -ne 'Running') { Stop-Invalid $(if ($previous -eq 'Paused') { 'resume it first' } elseif ($previous -in 'Off', 'Saved') { 'use start' }) }
        Restart-VM -VM $vm -Force
    }
    'pause' {
        switch ($previous) {
            'Running' { Suspend-VM -VM $vm }
            'Paused' { $changed = $false }
            default { Stop-Invalid }
        }
    }
    'resume' {
        switch ($previous) {
            'Paused' { Resume-VM -VM $vm }
            'Saved' { Start-VM -VM $vm }
            'Off' { Stop-Invalid 'use start' }
            default { Stop-Invalid }
        }
    }
    'save' {
        switch ($previous) {
            { $_ -in 'Running', 'Paused' } { Save-VM -VM $vm }
            'Saved' { $changed = $false }
            default { Stop-Invalid }
        }
    }
}

$final = Get-VM -Id $id
ConvertTo-OpenHvxJson ([ordered]@{
        vm = [ordered]@{
            guid          = $final.Id.ToString()
            name          = Get-OpenHvxTenantVMName $final $TenantId
            hostName      = [string]$final.Name
            state         = ConvertTo-OpenHvxPowerState $final.State
            previousState = $previous
            changed       = $changed
            stopMethod    = $stopMethod
        }
    })
