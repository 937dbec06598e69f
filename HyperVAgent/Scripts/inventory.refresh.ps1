# inventory.refresh: the host inventory on request, exactly as the periodic inventory reports it
# (see _inventory.ps1). Runs unchanged against real Hyper-V and the simulated module.
param(
    [Parameter(Mandatory)][string]$BasePath,
    [string]$TaskId,
    [string]$TenantId
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'

& (Join-Path $PSScriptRoot '_inventory.ps1') -BasePath $BasePath
