# Helpers shared by the agent's action scripts. Scripts import it with
#   Import-Module (Join-Path $PSScriptRoot 'OpenHvx.Agent.psm1')
# Nothing here may evaluate request data as code.

Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'

$script:Utf8NoBom = [System.Text.UTF8Encoding]::new($false)

# An ErrorRecord whose ErrorId is the structured error code the agent reports.
# Use: throw (New-OpenHvxError 'ERR_IMAGE_MISSING' "image not found: $x" 'ObjectNotFound')
function New-OpenHvxError {
    param(
        [Parameter(Mandatory)][ValidatePattern('\AERR_[A-Z0-9_]+\z')][string]$Code,
        [Parameter(Mandatory)][string]$Message,
        [System.Management.Automation.ErrorCategory]$Category = 'InvalidArgument',
        $Target = $null
    )
    [System.Management.Automation.ErrorRecord]::new([System.Exception]::new($Message), $Code, $Category, $Target)
}

# The one output of a script: compact JSON. -InputObject keeps arrays from being unrolled.
function ConvertTo-OpenHvxJson {
    param([Parameter(Mandatory)][AllowNull()]$InputObject)
    ConvertTo-Json -InputObject $InputObject -Depth 10 -Compress
}

# JSON is YAML, so cloud-init files are written as JSON: every string is a quoted scalar and
# no value can add a key. PyYAML (cloud-init) refuses a few raw characters that JSON allows
# unescaped (DEL, C1 controls, U+FFFE/U+FFFF); escape those so the document still loads.
function ConvertTo-OpenHvxYamlSafeJson {
    param([Parameter(Mandatory)][AllowNull()]$InputObject)
    $json = ConvertTo-Json -InputObject $InputObject -Depth 10 -Compress -EscapeHandling Default
    [regex]::Replace($json, '[\u007F-\u0084\u0086-\u009F\uFFFE\uFFFF]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })
}

function Write-OpenHvxTextFile {
    param([Parameter(Mandatory)][string]$Path, [Parameter(Mandatory)][AllowEmptyString()][string]$Text)
    [System.IO.File]::WriteAllText($Path, $Text, $script:Utf8NoBom)
}

# True when $Value can be used as one folder name on Windows and Linux: no separators, no
# traversal, no wildcard characters, no reserved device names.
function Test-OpenHvxPathSegment {
    param([AllowNull()][string]$Value)
    -not [string]::IsNullOrEmpty($Value) -and
    $Value -cmatch '\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\z' -and
    $Value -notmatch '\A(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\.|\z)' -and
    -not $Value.EndsWith('.')
}

# True when $Child is $Parent itself or below it (both full paths).
function Test-OpenHvxPathUnder {
    param([string]$Child, [string]$Parent)
    $cmp = if ($IsWindows) { [System.StringComparison]::OrdinalIgnoreCase } else { [System.StringComparison]::Ordinal }
    $p = [System.IO.Path]::TrimEndingDirectorySeparator($Parent)
    if ($Child.Equals($p, $cmp)) { return $true }
    # A root ('/', 'C:\') keeps its separator after trimming.
    $prefix = if ($p.EndsWith([System.IO.Path]::DirectorySeparatorChar) -or $p.EndsWith([System.IO.Path]::AltDirectorySeparatorChar)) { $p } else { $p + [System.IO.Path]::DirectorySeparatorChar }
    return $Child.StartsWith($prefix, $cmp)
}

# Waits for a named mutex (owned by the calling thread until released) in short steps so
# PowerShell.Stop() can interrupt. Returns $true once owned.
function Wait-OpenHvxMutex {
    param([Parameter(Mandatory)][System.Threading.Mutex]$Mutex, [int]$TimeoutSeconds = 60)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        try { if ($Mutex.WaitOne(100)) { return $true } }
        catch [System.Threading.AbandonedMutexException] { return $true }   # previous owner died: we own it now
        if ([DateTime]::UtcNow -gt $deadline) {
            throw (New-OpenHvxError 'ERR_BUSY' 'Timed out waiting for another task working on the same VM name.' 'ResourceBusy')
        }
    }
}

function Remove-OpenHvxDirectory {
    param([Parameter(Mandatory)][string]$Path)
    # Hyper-V can hold files for a moment after Remove-VM: retry briefly.
    for ($i = 0; $i -lt 10; $i++) {
        if (-not [System.IO.Directory]::Exists($Path)) { return }
        try { [System.IO.Directory]::Delete($Path, $true); return }
        catch [System.IO.IOException], [System.UnauthorizedAccessException] {
            if ($i -eq 9) { throw }
            Start-Sleep -Milliseconds 300
        }
    }
}

# The volume (System.IO.DriveInfo) holding $Path: the ready drive whose root is the longest
# prefix of the full path (Linux has nested mounts; on Windows this is the drive letter).
# $null when none can be queried (e.g. a UNC path).
function Get-OpenHvxPathVolume {
    param([Parameter(Mandatory)][string]$Path)
    $full = [System.IO.Path]::GetFullPath($Path)
    $best = $null
    foreach ($drive in [System.IO.DriveInfo]::GetDrives()) {
        try {
            if (-not $drive.IsReady) { continue }
            $root = $drive.RootDirectory.FullName
            if (-not (Test-OpenHvxPathUnder $full $root)) { continue }
            if ($null -eq $best -or $root.Length -gt $best.RootDirectory.FullName.Length) {
                [void]$drive.TotalSize   # throws for volumes we cannot query
                $best = $drive
            }
        }
        catch { continue }
    }
    return $best
}

# Hyper-V VM state (enum or string) as one of Running, Off, Paused, Saved. '*Critical' states
# map to their base state; FastSaved/Hibernated count as Saved; transitional states
# (Starting, Stopping, Saving, Pausing, Resuming, Reset, ...) hold the VM's memory and count as
# Running. Anything else (e.g. 'Other') is returned as it is.
function ConvertTo-OpenHvxPowerState {
    param([AllowNull()]$State)
    $s = [string]$State
    if ($s.EndsWith('Critical', [System.StringComparison]::Ordinal) -and $s.Length -gt 8) { $s = $s.Substring(0, $s.Length - 8) }
    if ($s -cin 'Running', 'Off', 'Paused', 'Saved') { return $s }
    if ($s -cin 'FastSaved', 'Hibernated') { return 'Saved' }
    if ($s -cin 'Starting', 'Stopping', 'Saving', 'Pausing', 'Resuming', 'Reset', 'FastSaving', 'ForceShutdown', 'ForceReboot', 'ComponentServicing') { return 'Running' }
    return $s
}

# The VM with this Hyper-V id, or $null when the host has none. Get-VM -Id reports a missing VM
# as an error, so a failing Get-VM -Id is confirmed by listing every VM: only a VM that the host
# really does not have counts as absent (a host error propagates).
function Find-OpenHvxVM {
    param([Parameter(Mandatory)][guid]$Id)
    $lookupErrors = $null
    $vm = Get-VM -Id $Id -ErrorAction SilentlyContinue -ErrorVariable lookupErrors
    if ($null -ne $vm) { return @($vm)[0] }
    $match = @(Get-VM | Where-Object { $_.Id -eq $Id })
    if ($match.Count -gt 0) { return $match[0] }
    return $null
}

# True when $VM belongs to $TenantId: its host name starts with "<TenantId>." (ordinal).
function Test-OpenHvxTenantVM {
    param([Parameter(Mandatory)]$VM, [Parameter(Mandatory)][string]$TenantId)
    ([string]$VM.Name).StartsWith("$TenantId.", [System.StringComparison]::Ordinal)
}

# The tenant's VM with this id; ERR_VM_NOT_FOUND when the host has none or it is another tenant's.
function Get-OpenHvxTenantVM {
    param([Parameter(Mandatory)][guid]$Id, [Parameter(Mandatory)][string]$TenantId)
    $vm = Find-OpenHvxVM $Id
    if ($null -eq $vm -or -not (Test-OpenHvxTenantVM $vm $TenantId)) {
        throw (New-OpenHvxError 'ERR_VM_NOT_FOUND' "virtual machine not found: $Id" 'ObjectNotFound')
    }
    return $vm
}

# The tenant-side name of a tenant's VM: its host name without the "<TenantId>." prefix.
function Get-OpenHvxTenantVMName {
    param([Parameter(Mandatory)]$VM, [Parameter(Mandatory)][string]$TenantId)
    $hostName = [string]$VM.Name
    if ($hostName.StartsWith("$TenantId.", [System.StringComparison]::Ordinal)) { return $hostName.Substring($TenantId.Length + 1) }
    return $hostName
}

# Validated Hyper-V id: ERR_INVALID_ARGUMENT unless $Text is a GUID.
function ConvertTo-OpenHvxVMId {
    param([AllowNull()][string]$Text)
    $id = [guid]::Empty
    if (-not [guid]::TryParse($Text, [ref]$id) -or $id -eq [guid]::Empty) {
        throw (New-OpenHvxError 'ERR_INVALID_ARGUMENT' 'VmId must be a Hyper-V virtual machine id (a GUID).')
    }
    return $id
}

# Brings a VM to Off. Off: nothing to do ('none'). Running: asks the guest to shut down and waits
# at most $TimeoutSeconds (Stop-VM -AsJob, so a guest that never answers cannot hold the script);
# Paused: resumes it first so the guest can shut down. If the VM is still not Off then: with
# $Force it is turned off ('turnoff'), else ERR_STOP_TIMEOUT (or ERR_STOP_FAILED when Hyper-V
# refused the shutdown, e.g. no shutdown integration service). Saved: the guest cannot shut down
# without running again, so only $Force turns it off (discarding the saved state), else
# ERR_INVALID_STATE. Returns 'none', 'shutdown' or 'turnoff'. $ForceName names the request field
# that sets $Force, for the messages.
function Stop-OpenHvxVM {
    param(
        [Parameter(Mandatory)]$VM,
        [Parameter(Mandatory)][int]$TimeoutSeconds,
        [bool]$Force = $false,
        [string]$ForceName = 'force',
        [string]$Operation = 'stop'
    )
    $id = [guid]$VM.Id
    $state = ConvertTo-OpenHvxPowerState $VM.State
    switch ($state) {
        'Off' { return 'none' }
        'Saved' {
            if (-not $Force) {
                throw (New-OpenHvxError 'ERR_INVALID_STATE' "cannot $Operation`: the VM is Saved and its guest cannot shut down until it runs again; start it first, or retry with $ForceName to discard the saved state" 'InvalidOperation')
            }
            Stop-VM -VM $VM -TurnOff -Force
            return 'turnoff'
        }
        'Paused' { Resume-VM -VM $VM }
        'Running' { }
        default { throw (New-OpenHvxError 'ERR_INVALID_STATE' "cannot $Operation`: the VM is $state" 'InvalidOperation') }
    }

    $deadline = [DateTime]::UtcNow.AddSeconds([math]::Max(0, $TimeoutSeconds))
    $reason = $null
    $completed = $false
    # -Force: no confirmation prompt when the guest is locked; still a guest shutdown, not a turn-off.
    $job = Stop-VM -VM (Get-VM -Id $id) -Force -AsJob
    try {
        while ($job.JobStateInfo.State -notin 'Completed', 'Failed', 'Stopped') {
            if ((ConvertTo-OpenHvxPowerState (Get-VM -Id $id).State) -eq 'Off') { break }
            if ([DateTime]::UtcNow -ge $deadline) { break }
            $null = Wait-Job -Job $job -Timeout 1
        }
        $completed = $job.JobStateInfo.State -eq 'Completed'
        if ($job.JobStateInfo.State -eq 'Failed') {
            $jobErrors = $null
            $null = Receive-Job -Job $job -ErrorAction SilentlyContinue -ErrorVariable jobErrors
            $reason = if ($jobErrors) { $jobErrors[0].Exception.Message } elseif ($job.JobStateInfo.Reason) { $job.JobStateInfo.Reason.Message } else { 'the shutdown failed' }
        }
    }
    finally {
        # Also stops a shutdown request that is still waiting for the guest.
        Remove-Job -Job $job -Force -ErrorAction SilentlyContinue
    }

    $current = Get-VM -Id $id
    # A completed Stop-VM means Off; give Hyper-V a moment to report it.
    for ($i = 0; $completed -and $i -lt 10 -and (ConvertTo-OpenHvxPowerState $current.State) -ne 'Off'; $i++) {
        Start-Sleep -Milliseconds 200
        $current = Get-VM -Id $id
    }
    if ((ConvertTo-OpenHvxPowerState $current.State) -eq 'Off') { return 'shutdown' }
    if ($Force) {
        Stop-VM -VM $current -TurnOff -Force
        return 'turnoff'
    }
    if ($null -ne $reason) {
        throw (New-OpenHvxError 'ERR_STOP_FAILED' "the guest could not be shut down ($reason); retry with $ForceName to turn the VM off" 'InvalidOperation')
    }
    throw (New-OpenHvxError 'ERR_STOP_TIMEOUT' "the guest did not shut down within $TimeoutSeconds s; retry with $ForceName" 'OperationTimeout')
}

$script:ComStreamWriterSource = @'
using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Runtime.InteropServices.ComTypes;

namespace OpenHvx.Agent
{
    public static class ComStreamWriter
    {
        // Copies a COM IStream (e.g. IMAPI2FS ImageStream) into a new file.
        public static void Save(object comStream, string path)
        {
            var stream = (IStream)comStream;
            var buffer = new byte[1 << 16];
            IntPtr bytesRead = Marshal.AllocHGlobal(sizeof(int));
            try
            {
                using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
                {
                    while (true)
                    {
                        Marshal.WriteInt32(bytesRead, 0);
                        stream.Read(buffer, buffer.Length, bytesRead);
                        int n = Marshal.ReadInt32(bytesRead);
                        if (n <= 0) break;
                        file.Write(buffer, 0, n);
                    }
                }
            }
            finally { Marshal.FreeHGlobal(bytesRead); }
        }
    }
}
'@

function Initialize-OpenHvxComStreamWriter {
    if ('OpenHvx.Agent.ComStreamWriter' -as [type]) { return }
    try { Add-Type -TypeDefinition $script:ComStreamWriterSource -Language CSharp }
    catch { if (-not ('OpenHvx.Agent.ComStreamWriter' -as [type])) { throw } }   # another runspace won the race
}

# Builds an ISO9660+Joliet image of the files in $SourceDirectory with volume label $VolumeName.
# Windows: IMAPI2FS. Elsewhere: genisoimage, mkisofs or xorriso from PATH.
# Returns $false (and creates nothing) when no ISO builder is available.
function New-OpenHvxIsoImage {
    param(
        [Parameter(Mandatory)][string]$SourceDirectory,
        [Parameter(Mandatory)][string]$Path,
        [Parameter(Mandatory)][string]$VolumeName
    )
    if ($IsWindows) {
        Initialize-OpenHvxComStreamWriter
        $fsi = New-Object -ComObject IMAPI2FS.MsftFileSystemImage
        $image = $null
        try {
            $fsi.FileSystemsToCreate = 3   # ISO9660 | Joliet: Joliet keeps the lower-case names cloud-init looks for
            $fsi.VolumeName = $VolumeName
            $fsi.Root.AddTree($SourceDirectory, $false)
            $image = $fsi.CreateResultImage()
            [OpenHvx.Agent.ComStreamWriter]::Save($image.ImageStream, $Path)
        }
        finally {
            # Release now so IMAPI drops its handles on the seed files.
            if ($null -ne $image) { [void][System.Runtime.InteropServices.Marshal]::FinalReleaseComObject($image) }
            [void][System.Runtime.InteropServices.Marshal]::FinalReleaseComObject($fsi)
        }
        return $true
    }

    # The first builder found, in this order. One name at a time: a lookup of a missing name is
    # slow (~100 ms), so names after the first one found are not looked up at all.
    $tool = $null
    foreach ($toolName in 'genisoimage', 'mkisofs', 'xorriso') {
        $tool = Get-Command -Name $toolName -CommandType Application -ErrorAction Ignore | Select-Object -First 1
        if ($null -ne $tool) { break }
    }
    if ($null -eq $tool) { return $false }
    $files = @([System.IO.Directory]::GetFiles($SourceDirectory) | Sort-Object)
    $toolArgs = @('-output', $Path, '-volid', $VolumeName, '-joliet', '-rock', '-quiet') + $files
    if ($tool.Name -like 'xorriso*') { $toolArgs = @('-as', 'mkisofs') + $toolArgs }
    $log = & $tool.Source @toolArgs 2>&1 | ForEach-Object { "$_" }
    if ($LASTEXITCODE -ne 0 -or -not [System.IO.File]::Exists($Path)) {
        throw (New-OpenHvxError 'ERR_SEED_ISO' ("{0} failed (exit {1}): {2}" -f $tool.Name, $LASTEXITCODE, ($log -join ' ')) 'WriteError')
    }
    return $true
}

Export-ModuleMember -Function New-OpenHvxError, ConvertTo-OpenHvxJson, ConvertTo-OpenHvxYamlSafeJson, Write-OpenHvxTextFile,
    Test-OpenHvxPathSegment, Test-OpenHvxPathUnder, Wait-OpenHvxMutex, Remove-OpenHvxDirectory, New-OpenHvxIsoImage,
    Get-OpenHvxPathVolume, ConvertTo-OpenHvxPowerState, Find-OpenHvxVM, Test-OpenHvxTenantVM, Get-OpenHvxTenantVM,
    Get-OpenHvxTenantVMName, ConvertTo-OpenHvxVMId, Stop-OpenHvxVM
