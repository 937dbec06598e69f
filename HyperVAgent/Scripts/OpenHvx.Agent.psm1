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
        [Parameter(Mandatory)][ValidatePattern('^ERR_[A-Z0-9_]+$')][string]$Code,
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
    $Value -cmatch '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' -and
    $Value -notmatch '^(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\.|$)' -and
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

    $tool = Get-Command -Name 'genisoimage', 'mkisofs', 'xorriso' -CommandType Application -ErrorAction Ignore | Select-Object -First 1
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
    Get-OpenHvxPathVolume, ConvertTo-OpenHvxPowerState
