# OpenHvx.SimulatedHyperV: a stand-in for the Hyper-V PowerShell module.
#
# The agent scripts run unchanged against real Hyper-V and against this module, so every
# exported command uses a real Hyper-V cmdlet name and real parameter names; whatever a
# script uses here must also exist, with the same meaning, in the real module.
#
# State lives under $global:OpenHvxSimRoot:
#   config.json          optional: host capacity (and host.cpuModel), switches, latency and fault injection,
#                        guest behaviour (guestShutdown)
#   vms/<guid>.json      one record per VM, replaced atomically (temp file + move)
#   vhds/<sha256>.json   index of the VHD files New-VHD created (for datastore usage)
#   .lock                exclusive file lock held while a record is read-modified-written
# VHD files are small JSON documents at the path the caller gave:
#   {"format":"VHDX","type":"Dynamic","sizeBytes":10737418240,"parentPath":null}
#
# Guest shutdown: a graceful Stop-VM (no -TurnOff, no -Save) on a Running VM asks the guest to
# shut down. By default the simulated guest complies at once. With
#   "guestShutdown": {"respond": false}
# in config.json the guest ignores the request: the VM stays Running and the Stop-VM never
# completes (it blocks until the pipeline is stopped; with -AsJob the job stays Running until
# Stop-Job/Remove-Job -Force). -TurnOff is unaffected.
#
# Errors carry an ErrorId starting with ERR_. Per-VM failures are written as non-terminating
# errors like the real cmdlets; since this module runs with $ErrorActionPreference = 'Stop'
# they terminate unless the caller passes -ErrorAction.

Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'

$script:VMTypeName = 'Microsoft.HyperV.PowerShell.VirtualMachine'
$script:MaxVMNameLength = 100
$script:Utf8 = [System.Text.UTF8Encoding]::new($false)
$script:Invariant = [System.Globalization.CultureInfo]::InvariantCulture
$script:RoundtripKind = [System.Globalization.DateTimeStyles]::RoundtripKind

# What -AsJob returns: a job in the session's job repository (Get-Job, Wait-Job, Receive-Job,
# Stop-Job and Remove-Job work on it). The cmdlet does its work before returning the job, except
# for what never completes (a graceful shutdown the guest ignores): then the job stays Running.
class OpenHvxSimulatedJob : System.Management.Automation.Job {
    OpenHvxSimulatedJob([string]$Command, [string]$Name) : base($Command, $Name) { $this.PSJobTypeName = 'OpenHvxSimulatedJob' }
    hidden [string] get_StatusMessage() { return '' }
    hidden [bool] get_HasMoreData() { return $this.Output.Count -gt 0 -or $this.Error.Count -gt 0 }
    hidden [string] get_Location() { return 'localhost' }
    [void] StopJob() { if ($this.JobStateInfo.State -notin 'Completed', 'Failed', 'Stopped') { $this.SetJobState('Stopped') } }
    [void] SetSimState([System.Management.Automation.JobState]$State) { $this.SetJobState($State) }
}

#region Helpers (not exported)

function New-SimError {
    param(
        [string]$ErrorId,
        [string]$Message,
        [System.Management.Automation.ErrorCategory]$Category = 'InvalidOperation',
        $Target = $null
    )
    [System.Management.Automation.ErrorRecord]::new([System.Exception]::new($Message), $ErrorId, $Category, $Target)
}

# Per-item error handling in process blocks: sim errors become non-terminating errors of the
# calling cmdlet, anything else (bugs, PipelineStoppedException) propagates.
function Write-SimItemError {
    param([System.Management.Automation.PSCmdlet]$Cmdlet, [System.Management.Automation.ErrorRecord]$Record)
    if ($Record.FullyQualifiedErrorId -like 'ERR_*') { $Cmdlet.WriteError($Record) }
    else { throw $Record }
}

function Get-SimProp {
    param($Object, [string]$Name, $Default = $null)
    if ($null -eq $Object) { return $Default }
    if ($Object -is [System.Collections.IDictionary]) {
        if ($Object.Contains($Name) -and $null -ne $Object[$Name]) { return $Object[$Name] }
        return $Default
    }
    $p = $Object.PSObject.Properties[$Name]
    if ($null -eq $p -or $null -eq $p.Value) { return $Default }
    return $p.Value
}

# Per-runspace caches (module state is per runspace). Files on disk stay the source of truth:
# every cache below is checked against the file on each use and only saves re-parsing.
$script:SimRootCache = $null       # the resolved root of the last $global:OpenHvxSimRoot seen
$script:SimConfigCache = $null     # config.json text + the config built from it
$script:SimVMCache = [System.Collections.Generic.Dictionary[string, object]]::new([System.StringComparer]::Ordinal)    # vms/*.json: path -> (text, record)
$script:SimJsonCache = [System.Collections.Generic.Dictionary[string, object]]::new([System.StringComparer]::Ordinal)  # other JSON files: path -> (text, value)

function Get-SimRootInfo {
    $ErrorActionPreference = 'Stop'
    $root = $ExecutionContext.SessionState.PSVariable.GetValue('global:OpenHvxSimRoot')
    if ([string]::IsNullOrWhiteSpace([string]$root)) {
        throw (New-SimError 'ERR_SIM_NOT_CONFIGURED' 'The simulated Hyper-V backend needs $global:OpenHvxSimRoot (a writable directory).' 'NotSpecified')
    }
    $raw = [string]$root
    $c = $script:SimRootCache
    if ($null -eq $c -or -not [string]::Equals($c.Raw, $raw, [System.StringComparison]::Ordinal)) {
        $full = [System.IO.Path]::GetFullPath($raw)
        $c = [pscustomobject]@{
            Raw = $raw; Root = $full
            Vms = [System.IO.Path]::Combine($full, 'vms'); Vhds = [System.IO.Path]::Combine($full, 'vhds')
            Config = [System.IO.Path]::Combine($full, 'config.json'); Lock = [System.IO.Path]::Combine($full, '.lock')
        }
        # A relative root resolves against the process directory, which can change: do not keep it.
        if ([System.IO.Path]::IsPathFullyQualified($raw)) { $script:SimRootCache = $c }
    }
    # Still checked on every call (two stats): the folders may have been removed meanwhile.
    if (-not ([System.IO.Directory]::Exists($c.Vms) -and [System.IO.Directory]::Exists($c.Vhds))) {
        foreach ($d in @($c.Root, $c.Vms, $c.Vhds)) {
            if (-not [System.IO.Directory]::Exists($d)) { [void][System.IO.Directory]::CreateDirectory($d) }
        }
    }
    return $c
}

function Get-SimRoot {
    return (Get-SimRootInfo).Root
}

# config.json is read on every call (a change applies at once); it is parsed again only when its
# text differs from the text the cached config was built from.
function Get-SimConfig {
    $ErrorActionPreference = 'Stop'
    $rootInfo = Get-SimRootInfo
    $root = $rootInfo.Root
    $path = $rootInfo.Config
    $text = $null
    if ([System.IO.File]::Exists($path)) {
        try { $text = [System.IO.File]::ReadAllText($path) }
        catch { throw (New-SimError 'ERR_SIM_CONFIG' "Invalid simulator config '$path': $($_.Exception.Message)" 'InvalidData') }
    }
    $cached = $script:SimConfigCache
    if ($null -ne $cached -and [string]::Equals($cached.Path, $path, [System.StringComparison]::Ordinal) -and [string]::Equals($cached.Text, $text, [System.StringComparison]::Ordinal)) {
        return $cached.Config
    }
    $raw = $null
    if ($null -ne $text) {
        try { $raw = $text | ConvertFrom-Json -DateKind String }
        catch { throw (New-SimError 'ERR_SIM_CONFIG' "Invalid simulator config '$path': $($_.Exception.Message)" 'InvalidData') }
    }
    $hostCfg = Get-SimProp $raw 'host'
    $switches = [System.Collections.Generic.List[object]]::new()
    foreach ($s in @(Get-SimProp $raw 'switches' @('Default Switch'))) {
        if ($s -is [string]) { $switches.Add([pscustomobject]@{ Name = $s; SwitchType = 'Internal' }) }
        else { $switches.Add([pscustomobject]@{ Name = [string](Get-SimProp $s 'name'); SwitchType = [string](Get-SimProp $s 'switchType' 'Internal') }) }
    }
    $latency = Get-SimProp $raw 'latencyMs'
    $faults = Get-SimProp $raw 'faults'
    $config = [pscustomobject]@{
        Root              = $root
        HostName          = [string](Get-SimProp $hostCfg 'name' 'sim-host')
        LogicalProcessors = [int](Get-SimProp $hostCfg 'logicalProcessors' 16)
        MemoryMB          = [long](Get-SimProp $hostCfg 'memoryMB' 65536)
        StorageMB         = [long](Get-SimProp $hostCfg 'storageMB' 1048576)
        CpuModel          = Get-SimProp $hostCfg 'cpuModel'
        Switches          = $switches.ToArray()
        Latency           = $latency
        Faults            = $faults
        GuestShutdown     = Get-SimGuestShutdownConfig (Get-SimProp $raw 'guestShutdown') $path
        # False when latencyMs and faults are absent or empty objects: no cmdlet has any behaviour.
        HasBehaviour      = -not ((Test-SimEmptyObject $latency) -and (Test-SimEmptyObject $faults))
    }
    $script:SimConfigCache = [pscustomobject]@{ Path = $path; Text = $text; Config = $config }
    return $config
}

function Test-SimEmptyObject {
    param($Object)
    if ($null -eq $Object) { return $true }
    if ($Object -is [System.Management.Automation.PSCustomObject]) { return @($Object.PSObject.Properties).Count -eq 0 }
    return $false
}

# guestShutdown: {"respond": bool} (default true).
function Get-SimGuestShutdownConfig {
    param($Raw, [string]$Path)
    $respond = Get-SimProp $Raw 'respond' $true
    if ($respond -isnot [bool]) { throw (New-SimError 'ERR_SIM_CONFIG' "Invalid simulator config '$Path': guestShutdown.respond must be true or false." 'InvalidData') }
    [pscustomobject]@{ Respond = $respond }
}

# Latency and fault injection, applied once per cmdlet invocation before it acts.
function Invoke-SimBehaviour {
    param([string]$CommandName)
    $ErrorActionPreference = 'Stop'
    $cfg = Get-SimConfig
    if (-not $cfg.HasBehaviour) { return }
    $ms = Get-SimProp $cfg.Latency $CommandName (Get-SimProp $cfg.Latency '*' 0)
    if ([int]$ms -gt 0) { Start-Sleep -Milliseconds ([int]$ms) }   # interruptible by PowerShell.Stop()
    $fault = Get-SimProp $cfg.Faults $CommandName (Get-SimProp $cfg.Faults '*')
    if ($null -ne $fault) {
        # 'times': fail only the first N calls of this cmdlet (a transient fault); counted on disk.
        $times = Get-SimProp $fault 'times'
        if ($null -ne $times) {
            $counter = Join-Path $cfg.Root "fault-count.$CommandName"
            $lock = Enter-SimLock
            try {
                $seen = if ([System.IO.File]::Exists($counter)) { [int][System.IO.File]::ReadAllText($counter) } else { 0 }
                [System.IO.File]::WriteAllText($counter, [string]($seen + 1))
            }
            finally { $lock.Dispose() }
            if ($seen -ge [int]$times) { return }
        }
        $rate = [double](Get-SimProp $fault 'rate' 1.0)
        if ($rate -ge 1.0 -or [System.Random]::Shared.NextDouble() -lt $rate) {
            $msg = [string](Get-SimProp $fault 'message' 'injected fault')
            $errorId = [string](Get-SimProp $fault 'errorId' 'ERR_SIMULATED_FAULT')
            throw (New-SimError $errorId "${CommandName}: $msg" 'NotSpecified')
        }
    }
}

# Exclusive lock over the whole simulator state; hold it only for short read-modify-write
# sections (never while sleeping for injected latency).
function Enter-SimLock {
    $ErrorActionPreference = 'Stop'
    $path = (Get-SimRootInfo).Lock
    $deadline = [DateTime]::UtcNow.AddSeconds(30)
    while ($true) {
        try { return [System.IO.FileStream]::new($path, 'OpenOrCreate', 'ReadWrite', 'None') }
        catch [System.IO.IOException] {
            if ([DateTime]::UtcNow -gt $deadline) { throw (New-SimError 'ERR_SIM_BUSY' "Timed out waiting for the simulator lock '$path'." 'ResourceBusy') }
            Start-Sleep -Milliseconds 5
        }
    }
}

function Write-SimFileAtomic {
    param([string]$Path, [string]$Text)
    $tmp = '{0}.{1}.tmp' -f $Path, [guid]::NewGuid().ToString('N')
    [System.IO.File]::WriteAllText($tmp, $Text, $script:Utf8)
    [System.IO.File]::Move($tmp, $Path, $true)
}

# The text of a file, or $null when it does not exist (e.g. removed meanwhile).
function Read-SimText {
    param([string]$Path)
    $ErrorActionPreference = 'Stop'
    for ($i = 0; ; $i++) {
        try { return [System.IO.File]::ReadAllText($Path) }
        catch [System.IO.FileNotFoundException], [System.IO.DirectoryNotFoundException] { return $null }
        catch [System.IO.IOException] {
            # Windows: a concurrent replace can briefly hold the file.
            if ($i -ge 20) { throw }
            Start-Sleep -Milliseconds 10
        }
    }
}

# A freshly parsed JSON file ($null when it does not exist): for read-modify-write.
function Read-SimJsonFile {
    param([string]$Path)
    $ErrorActionPreference = 'Stop'
    $text = Read-SimText $Path
    if ($null -eq $text) { return $null }
    return ($text | ConvertFrom-Json -DateKind String)
}

# Like Read-SimJsonFile, but the parsed value is shared with other callers of this runspace: it
# is re-parsed only when the file's text changed. Callers must not modify what it returns.
function Read-SimJsonCached {
    param([string]$Path, [System.Collections.Generic.Dictionary[string, object]]$Cache = $script:SimJsonCache)
    $ErrorActionPreference = 'Stop'
    $text = Read-SimText $Path
    if ($null -eq $text) { [void]$Cache.Remove($Path); return $null }
    $entry = $null
    if ($Cache.TryGetValue($Path, [ref]$entry) -and [string]::Equals($entry.Text, $text, [System.StringComparison]::Ordinal)) { return $entry.Value }
    $value = $text | ConvertFrom-Json -DateKind String
    if ($Cache.Count -ge 4096) { $Cache.Clear() }
    $Cache[$Path] = [pscustomobject]@{ Text = $text; Value = $value }
    return $value
}

function Get-SimVMPath { param([guid]$Id) [System.IO.Path]::Combine((Get-SimRootInfo).Vms, ('{0}.json' -f $Id.ToString())) }

# Read-only view of a VM record (shared, cached): never modify it; Update-SimVMRecord reads its own copy.
function Read-SimVMRecord { param([guid]$Id) Read-SimJsonCached (Get-SimVMPath $Id) $script:SimVMCache }

function Save-SimVMRecord {
    param($Record)
    Write-SimFileAtomic (Get-SimVMPath ([guid]$Record.id)) (ConvertTo-Json -InputObject $Record -Depth 10 -Compress)
}

# Read-only views of every VM record (shared, cached: never modify them).
function Get-SimVMRecords {
    $ErrorActionPreference = 'Stop'
    $cache = $script:SimVMCache
    $files = [System.IO.Directory]::GetFiles((Get-SimRootInfo).Vms, '*.json')
    foreach ($f in $files) {
        $text = $null
        for ($i = 0; ; $i++) {
            try { $text = [System.IO.File]::ReadAllText($f); break }
            catch [System.IO.FileNotFoundException], [System.IO.DirectoryNotFoundException] { break }
            catch [System.IO.IOException] {
                # Windows: a concurrent replace can briefly hold the file.
                if ($i -ge 20) { throw }
                Start-Sleep -Milliseconds 10
            }
        }
        if ($null -eq $text) { [void]$cache.Remove($f); continue }   # removed meanwhile
        $entry = $null
        if ($cache.TryGetValue($f, [ref]$entry) -and [string]::Equals($entry.Text, $text, [System.StringComparison]::Ordinal)) { $rec = $entry.Value }
        else {
            $rec = $text | ConvertFrom-Json -DateKind String
            $cache[$f] = [pscustomobject]@{ Text = $text; Value = $rec }
        }
        if ($null -ne $rec) { $rec }
    }
    # Forget records whose files are gone.
    if ($cache.Count -gt $files.Length) {
        $keep = [System.Collections.Generic.HashSet[string]]::new([string[]]$files, [System.StringComparer]::Ordinal)
        foreach ($k in @($cache.Keys)) { if (-not $keep.Contains($k)) { [void]$cache.Remove($k) } }
    }
}

function Resolve-SimPath {
    param([System.Management.Automation.PSCmdlet]$Cmdlet, [string]$Path)
    # Relative paths resolve against the PowerShell location, like the real cmdlets; no globbing.
    [System.IO.Path]::GetFullPath($Cmdlet.GetUnresolvedProviderPathFromPSPath($Path))
}

function Get-SimDriveObject {
    param($Record, $Drive, [string]$Kind)
    $ct = [string]$Drive.controllerType
    $label = if ($Kind -eq 'HardDiskDrive') { 'Hard Drive' } else { 'DVD Drive' }
    [pscustomobject]@{
        PSTypeName         = "Microsoft.HyperV.PowerShell.$Kind"
        Name               = '{0} on {1} controller number {2} at location {3}' -f $label, $ct, $Drive.controllerNumber, $Drive.controllerLocation
        Path               = $Drive.path
        ControllerType     = $ct
        ControllerNumber   = [int]$Drive.controllerNumber
        ControllerLocation = [int]$Drive.controllerLocation
        VMName             = [string]$Record.name
        VMId               = [guid]$Record.id
    }
}

function Get-SimAdapterObject {
    param($Record, $Adapter)
    [pscustomobject]@{
        PSTypeName = 'Microsoft.HyperV.PowerShell.VMNetworkAdapter'
        Name       = [string]$Adapter.name
        Id         = 'Microsoft:{0}\{1}' -f $Record.id, $Adapter.id
        SwitchName = $Adapter.switchName
        Connected  = ($null -ne $Adapter.switchName)
        MacAddress = [string]$Adapter.macAddress
        VMName     = [string]$Record.name
        VMId       = [guid]$Record.id
    }
}

function ConvertTo-SimVM {
    param($Record)
    ConvertTo-SimVMList @(, $Record) (Get-SimConfig).HostName
}

# ConvertTo-SimVM for many records in one call ($HostName: the configured host name). The drive
# and adapter objects are built inline (same shape as Get-SimDriveObject and Get-SimAdapterObject):
# Get-VM converts every VM, so per-item function calls add up.
function ConvertTo-SimVMList {
    param([object[]]$Records, [string]$HostName)
    foreach ($Record in $Records) {
        $id = [guid]$Record.id
        $name = [string]$Record.name
        $state = [string]$Record.state
        # @(x) enumerates like a pipeline: $null counts as one item.
        $adapters = @(foreach ($a in @($Record.networkAdapters)) {
                [pscustomobject]@{
                    PSTypeName = 'Microsoft.HyperV.PowerShell.VMNetworkAdapter'
                    Name       = [string]$a.name
                    Id         = 'Microsoft:{0}\{1}' -f $Record.id, $a.id
                    SwitchName = $a.switchName
                    Connected  = ($null -ne $a.switchName)
                    MacAddress = [string]$a.macAddress
                    VMName     = $name
                    VMId       = $id
                }
            })
        $hardDrives = @(foreach ($d in @($Record.hardDrives)) {
                $ct = [string]$d.controllerType
                [pscustomobject]@{
                    PSTypeName         = 'Microsoft.HyperV.PowerShell.HardDiskDrive'
                    Name               = 'Hard Drive on {0} controller number {1} at location {2}' -f $ct, $d.controllerNumber, $d.controllerLocation
                    Path               = $d.path
                    ControllerType     = $ct
                    ControllerNumber   = [int]$d.controllerNumber
                    ControllerLocation = [int]$d.controllerLocation
                    VMName             = $name
                    VMId               = $id
                }
            })
        $dvdDrives = @(foreach ($d in @($Record.dvdDrives)) {
                $ct = [string]$d.controllerType
                [pscustomobject]@{
                    PSTypeName         = 'Microsoft.HyperV.PowerShell.DvdDrive'
                    Name               = 'DVD Drive on {0} controller number {1} at location {2}' -f $ct, $d.controllerNumber, $d.controllerLocation
                    Path               = $d.path
                    ControllerType     = $ct
                    ControllerNumber   = [int]$d.controllerNumber
                    ControllerLocation = [int]$d.controllerLocation
                    VMName             = $name
                    VMId               = $id
                }
            })
        $switchName = $null
        if ($adapters.Count -gt 0) { $switchName = $adapters[0].SwitchName }
        $uptime = [TimeSpan]::Zero
        if ($state -eq 'Running' -and $null -ne $Record.startedAt) {
            $uptime = [DateTime]::UtcNow - [DateTime]::Parse([string]$Record.startedAt, $script:Invariant, $script:RoundtripKind)
        }
        [pscustomobject]@{
            PSTypeName            = $script:VMTypeName
            Name                  = $name
            VMName                = $name
            Id                    = $id
            VMId                  = $id
            State                 = $state
            Status                = 'Operating normally'
            ProcessorCount        = [int]$Record.processorCount
            MemoryStartup         = [long]$Record.memoryStartup
            MemoryAssigned        = $(if ($state -eq 'Running' -or $state -eq 'Paused') { [long]$Record.memoryStartup } else { [long]0 })
            DynamicMemoryEnabled  = [bool]$Record.dynamicMemoryEnabled
            MemoryMinimum         = [long]$Record.memoryMinimum
            MemoryMaximum         = [long]$Record.memoryMaximum
            Generation            = [int]$Record.generation
            Path                  = [string]$Record.path
            ConfigurationLocation = [string]$Record.path
            HardDrives            = $hardDrives
            DvdDrives             = $dvdDrives
            NetworkAdapters       = $adapters
            SwitchName            = $switchName
            SecureBoot            = [string]$Record.secureBoot
            SecureBootTemplate    = [string]$Record.secureBootTemplate
            Notes                 = [string]$Record.notes
            CreationTime          = [DateTime]::Parse([string]$Record.creationTime, $script:Invariant, $script:RoundtripKind)
            Uptime                = $uptime
            ComputerName          = $HostName
        }
    }
}

function Test-SimWildcardMatch {
    param([string]$Value, [string[]]$Patterns)
    foreach ($p in $Patterns) {
        if ([System.Management.Automation.WildcardPattern]::new($p, 'IgnoreCase').IsMatch($Value)) { return $true }
    }
    return $false
}

# Resolves -VM objects or -Name/-VMName patterns (real wildcard semantics) to VM records.
# A literal name that matches nothing is a non-terminating error, like Get-VM.
function Resolve-SimVMRecords {
    param([System.Management.Automation.PSCmdlet]$Cmdlet, [object[]]$VM, [string[]]$Name)
    $ErrorActionPreference = 'Stop'
    $out = [System.Collections.Generic.List[object]]::new()
    if ($null -ne $VM) {
        foreach ($v in $VM) {
            if ($null -eq $v) { continue }
            $pso = [psobject]$v
            if ($pso.PSTypeNames -notcontains $script:VMTypeName -or $null -eq $pso.PSObject.Properties['Id']) {
                throw (New-SimError 'ERR_INVALID_ARGUMENT' "-VM expects a virtual machine object (from Get-VM or New-VM), got '$v'." 'InvalidArgument' $v)
            }
            $rec = Read-SimVMRecord ([guid]$pso.Id)
            if ($null -eq $rec) {
                $Cmdlet.WriteError((New-SimError 'ERR_VM_NOT_FOUND' "The virtual machine '$($pso.Name)' ($($pso.Id)) no longer exists." 'ObjectNotFound' $v))
                continue
            }
            $rec
        }
        return
    }
    if ($null -eq $Name) { return }
    $all = @(Get-SimVMRecords)
    $ids = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
    foreach ($n in $Name) {
        $pattern = [System.Management.Automation.WildcardPattern]::new(([string[]]@($n))[0], 'IgnoreCase')
        $foundAny = $false
        foreach ($r in $all) {
            if (-not $pattern.IsMatch([string]$r.name)) { continue }
            $foundAny = $true
            if ($ids.Add([string]$r.id)) { $out.Add($r) }
        }
        if (-not $foundAny -and -not [System.Management.Automation.WildcardPattern]::ContainsWildcardCharacters($n)) {
            $Cmdlet.WriteError((New-SimError 'ERR_VM_NOT_FOUND' "Hyper-V was unable to find a virtual machine with name '$n'." 'ObjectNotFound' $n))
        }
    }
    if ($out.Count -le 1) { return $out.ToArray() }
    $out | Sort-Object { [string]$_.name }
}

# Read-modify-write of one VM record under the simulator lock. $Mutate receives the fresh record
# and may throw an ERR_* ErrorRecord to refuse the change (nothing is written then).
function Update-SimVMRecord {
    param([guid]$Id, [scriptblock]$Mutate)
    $ErrorActionPreference = 'Stop'
    # $Mutate sees the caller's variables (dynamic scope): keep these local names unusual.
    $simLock = Enter-SimLock
    try {
        # A private copy (not the shared read-only one): $Mutate modifies it.
        $simRecord = Read-SimJsonFile (Get-SimVMPath $Id)
        if ($null -eq $simRecord) { throw (New-SimError 'ERR_VM_NOT_FOUND' "The virtual machine $Id no longer exists." 'ObjectNotFound' $Id) }
        & $Mutate $simRecord
        Save-SimVMRecord $simRecord
        return $simRecord
    }
    finally { $simLock.Dispose() }
}

function Assert-SimState {
    param($Record, [string[]]$Allowed, [string]$Operation)
    if ([string]$Record.state -notin $Allowed) {
        throw (New-SimError 'ERR_INVALID_STATE' ("'{0}' failed to {1}: the operation cannot be performed while the virtual machine is in the {2} state." -f $Record.name, $Operation, $Record.state) 'InvalidOperation' $Record.name)
    }
}

function Assert-SimVMName {
    param([string]$Name, [switch]$AsFolderName)
    if ([string]::IsNullOrEmpty($Name) -or $Name.Length -gt $script:MaxVMNameLength) {
        throw (New-SimError 'ERR_INVALID_ARGUMENT' "A virtual machine name must be 1 to $($script:MaxVMNameLength) characters long." 'InvalidArgument' $Name)
    }
    # With -Path, real Hyper-V creates <Path>\<Name>\ on NTFS: names that are not valid Windows
    # folder names fail there, so they fail here too (this keeps the scripts honest on Linux).
    if ($AsFolderName -and ($Name -match '[\\/:*?"<>|\x00-\x1f]' -or $Name -match '[. ]\z' -or $Name -in '.', '..')) {
        throw (New-SimError 'ERR_INVALID_ARGUMENT' "The virtual machine name '$Name' cannot be used as a folder name under -Path." 'InvalidArgument' $Name)
    }
}

function Assert-SimMemory {
    param($Record)
    $twoMB = 2MB
    foreach ($v in @($Record.memoryStartup, $Record.memoryMinimum, $Record.memoryMaximum)) {
        if ([long]$v -lt 32MB -or ([long]$v % $twoMB) -ne 0) {
            throw (New-SimError 'ERR_INVALID_ARGUMENT' "Memory values must be at least 32 MB and a multiple of 2 MB (got $v bytes)." 'InvalidArgument' $v)
        }
    }
    if ([bool]$Record.dynamicMemoryEnabled -and -not ([long]$Record.memoryMinimum -le [long]$Record.memoryStartup -and [long]$Record.memoryStartup -le [long]$Record.memoryMaximum)) {
        throw (New-SimError 'ERR_INVALID_ARGUMENT' 'With dynamic memory, minimum <= startup <= maximum must hold.' 'InvalidArgument')
    }
}

# Memory held by running/paused VMs other than $ExceptId, in bytes.
function Get-SimMemoryInUse {
    param([guid]$ExceptId)
    $sum = [long]0
    foreach ($r in Get-SimVMRecords) {
        if ([guid]$r.id -ne $ExceptId -and [string]$r.state -in 'Running', 'Paused') { $sum += [long]$r.memoryStartup }
    }
    return $sum
}

function Assert-SimMemoryAvailable {
    param($Record, [long]$StartupBytes)
    $cfg = Get-SimConfig
    $capacity = $cfg.MemoryMB * 1MB
    $inUse = Get-SimMemoryInUse ([guid]$Record.id)
    if ($inUse + $StartupBytes -gt $capacity) {
        throw (New-SimError 'ERR_INSUFFICIENT_MEMORY' ("'{0}' could not start: not enough memory in the system ({1} MB needed, {2} MB free)." -f $Record.name, ($StartupBytes / 1MB), [math]::Max(0, [math]::Floor(($capacity - $inUse) / 1MB))) 'ResourceUnavailable' $Record.name)
    }
}

function Set-SimProcessorCount {
    param($Record, [long]$Count)
    $lp = (Get-SimConfig).LogicalProcessors
    if ($Count -lt 1 -or $Count -gt $lp) {
        throw (New-SimError 'ERR_INVALID_ARGUMENT' "The processor count must be between 1 and the host's $lp logical processors (got $Count)." 'InvalidArgument' $Count)
    }
    if ([long]$Record.processorCount -ne $Count) {
        Assert-SimState $Record 'Off' 'change the processor count'
        $Record.processorCount = $Count
    }
}

# $Changes: hashtable with any of startup, minimum, maximum, dynamic.
function Set-SimMemory {
    param($Record, [hashtable]$Changes)
    $state = [string]$Record.state
    if ($Changes.ContainsKey('dynamic') -and [bool]$Changes.dynamic -ne [bool]$Record.dynamicMemoryEnabled) {
        Assert-SimState $Record 'Off' 'change dynamic memory'
        $Record.dynamicMemoryEnabled = [bool]$Changes.dynamic
    }
    if ($Changes.ContainsKey('startup') -and [long]$Changes.startup -ne [long]$Record.memoryStartup) {
        if ($state -ne 'Off') {
            # Runtime resize exists for static memory on running VMs only.
            if ($state -ne 'Running' -or [bool]$Record.dynamicMemoryEnabled) { Assert-SimState $Record 'Off' 'change the startup memory' }
            Assert-SimMemoryAvailable $Record ([long]$Changes.startup)
        }
        $Record.memoryStartup = [long]$Changes.startup
    }
    # With dynamic memory on a running VM, the minimum can only go down and the maximum only up.
    $live = $state -ne 'Off' -and [bool]$Record.dynamicMemoryEnabled
    if ($Changes.ContainsKey('minimum')) {
        if ($live -and [long]$Changes.minimum -gt [long]$Record.memoryMinimum) { Assert-SimState $Record 'Off' 'raise the minimum memory' }
        $Record.memoryMinimum = [long]$Changes.minimum
    }
    if ($Changes.ContainsKey('maximum')) {
        if ($live -and [long]$Changes.maximum -lt [long]$Record.memoryMaximum) { Assert-SimState $Record 'Off' 'lower the maximum memory' }
        $Record.memoryMaximum = [long]$Changes.maximum
    }
    Assert-SimMemory $Record
}

function Get-SimSwitch {
    param([string]$Name)
    foreach ($s in (Get-SimConfig).Switches) { if ($s.Name -eq $Name) { return $s } }
}

function Assert-SimSwitch {
    param([string]$Name)
    if ($null -eq (Get-SimSwitch $Name)) {
        throw (New-SimError 'ERR_SWITCH_NOT_FOUND' "Hyper-V was unable to find a virtual switch with name '$Name'." 'ObjectNotFound' $Name)
    }
}

function Get-SimVhdFormat {
    param([string]$Path)
    switch -regex ([System.IO.Path]::GetExtension($Path)) {
        '^\.vhdx$' { return 'VHDX' }
        '^\.vhd$' { return 'VHD' }
        default { throw (New-SimError 'ERR_INVALID_ARGUMENT' "'$Path' must have the extension .vhdx or .vhd." 'InvalidArgument' $Path) }
    }
}

function Read-SimVhd {
    param([string]$Path)
    $ErrorActionPreference = 'Stop'
    if (-not [System.IO.File]::Exists($Path)) {
        throw (New-SimError 'ERR_FILE_NOT_FOUND' "The system cannot find the file '$Path'." 'ObjectNotFound' $Path)
    }
    $doc = $null
    try { $doc = Read-SimJsonCached $Path } catch { $doc = $null }
    $format = [string](Get-SimProp $doc 'format')
    if ($format -notin 'VHDX', 'VHD' -or $null -eq (Get-SimProp $doc 'sizeBytes')) {
        throw (New-SimError 'ERR_INVALID_VHD' "'$Path' is not a virtual hard disk file." 'InvalidData' $Path)
    }
    [pscustomobject]@{
        format     = $format
        type       = [string](Get-SimProp $doc 'type' $(if (Get-SimProp $doc 'parentPath') { 'Differencing' } else { 'Dynamic' }))
        sizeBytes  = [long]$doc.sizeBytes
        parentPath = Get-SimProp $doc 'parentPath'
    }
}

function Write-SimVhd {
    param([string]$Path, $Doc, [switch]$CreateNew)
    $json = [ordered]@{ format = $Doc.format; type = $Doc.type; sizeBytes = [long]$Doc.sizeBytes; parentPath = $Doc.parentPath } | ConvertTo-Json -Compress
    if ($CreateNew) {
        # CreateNew: two concurrent New-VHD calls for one path cannot both succeed.
        $fs = [System.IO.FileStream]::new($Path, 'CreateNew', 'Write', 'None')
        try { $bytes = $script:Utf8.GetBytes($json); $fs.Write($bytes, 0, $bytes.Length) } finally { $fs.Dispose() }
        $hash = [System.Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData($script:Utf8.GetBytes($Path)))
        Write-SimFileAtomic (Join-Path (Join-Path (Get-SimRoot) 'vhds') "$hash.json") (@{ path = $Path } | ConvertTo-Json -Compress)
    }
    else { Write-SimFileAtomic $Path $json }
}

function ConvertTo-SimVhdObject {
    param([string]$Path, $Doc)
    $attached = $false
    foreach ($r in Get-SimVMRecords) {
        foreach ($d in @($r.hardDrives)) { if ([string]$d.path -eq $Path) { $attached = $true } }
    }
    [pscustomobject]@{
        PSTypeName         = 'Microsoft.Vhd.PowerShell.VirtualHardDisk'
        Path               = $Path
        VhdFormat          = $Doc.format
        VhdType            = $Doc.type
        Size               = [long]$Doc.sizeBytes
        FileSize           = [System.IO.FileInfo]::new($Path).Length
        MinimumSize        = [long]$Doc.sizeBytes
        ParentPath         = $Doc.parentPath
        LogicalSectorSize  = 512
        PhysicalSectorSize = 4096
        Attached           = $attached
    }
}

function Get-SimFreeSlot {
    param($Record, [string]$ControllerType)
    $used = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
    foreach ($d in @(@($Record.hardDrives) + @($Record.dvdDrives))) {
        if ($d.controllerType -eq $ControllerType) { [void]$used.Add(('{0}:{1}' -f $d.controllerNumber, $d.controllerLocation)) }
    }
    $controllers = if ($ControllerType -eq 'IDE') { 0..1 } else { 0..3 }
    $locations = if ($ControllerType -eq 'IDE') { 0..1 } else { 0..63 }
    foreach ($c in $controllers) { foreach ($l in $locations) { if (-not $used.Contains("${c}:$l")) { return @{ controllerNumber = $c; controllerLocation = $l } } } }
    throw (New-SimError 'ERR_INVALID_OPERATION' "No free $ControllerType controller slot on '$($Record.name)'." 'LimitsExceeded' $Record.name)
}

# Adds a drive record; returns the new drive entry.
function Add-SimDrive {
    param($Record, [string]$Kind, $Path)
    $ct = if ([int]$Record.generation -eq 1) { 'IDE' } else { 'SCSI' }
    # Hot-add exists only for SCSI hard disks; IDE devices and DVD drives need the VM off.
    if ($Kind -eq 'dvd' -or $ct -eq 'IDE') { Assert-SimState $Record 'Off' "add a $Kind drive" }
    $slot = Get-SimFreeSlot $Record $ct
    $drive = [pscustomobject]@{ path = $Path; controllerType = $ct; controllerNumber = $slot.controllerNumber; controllerLocation = $slot.controllerLocation }
    if ($Kind -eq 'dvd') { $Record.dvdDrives = @(@($Record.dvdDrives) + $drive) }
    else { $Record.hardDrives = @(@($Record.hardDrives) + $drive) }
    return $drive
}

function Assert-SimBootable {
    param($Record)
    foreach ($d in @($Record.hardDrives)) {
        $p = [string]$d.path
        for ($depth = 0; $depth -lt 16 -and $p; $depth++) {
            try { $doc = Read-SimVhd $p }
            catch { throw (New-SimError $_.FullyQualifiedErrorId ("'{0}' failed to start: {1}" -f $Record.name, $_.Exception.Message) 'ObjectNotFound' $Record.name) }
            $p = [string]$doc.parentPath
        }
    }
    foreach ($d in @($Record.dvdDrives)) {
        if ($d.path -and -not [System.IO.File]::Exists([string]$d.path)) {
            throw (New-SimError 'ERR_FILE_NOT_FOUND' ("'{0}' failed to start: the DVD image '{1}' does not exist." -f $Record.name, $d.path) 'ObjectNotFound' $Record.name)
        }
    }
    foreach ($a in @($Record.networkAdapters)) { if ($a.switchName) { Assert-SimSwitch ([string]$a.switchName) } }
}

function Set-SimRunState {
    param($Record, [string]$State)
    $Record.state = $State
    $Record.startedAt = if ($State -in 'Running', 'Paused') { if ($Record.startedAt) { $Record.startedAt } else { [DateTime]::UtcNow.ToString('o') } } else { $null }
}

# Shared shape of the power cmdlets: resolve targets, apply $Mutate to each under the lock.
function Invoke-SimVMChange {
    param([System.Management.Automation.PSCmdlet]$Cmdlet, [object[]]$VM, [string[]]$Name, [scriptblock]$Mutate, [switch]$Passthru)
    foreach ($rec in (Resolve-SimVMRecords $Cmdlet $VM $Name)) {
        try {
            $updated = Update-SimVMRecord ([guid]$rec.id) $Mutate
            if ($Passthru) { $Cmdlet.WriteObject((ConvertTo-SimVM $updated)) }
        }
        catch { Write-SimItemError $Cmdlet $_ }
    }
}

#endregion

#region Host, switches, datastore

function Get-VMHost {
    [CmdletBinding()]
    param([string[]]$ComputerName)
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    end {
        $cfg = Get-SimConfig
        [pscustomobject]@{
            PSTypeName                = 'Microsoft.HyperV.PowerShell.VMHost'
            Name                      = $cfg.HostName
            ComputerName              = $cfg.HostName
            FullyQualifiedDomainName  = $cfg.HostName
            LogicalProcessorCount     = $cfg.LogicalProcessors
            MemoryCapacity            = $cfg.MemoryMB * 1MB
            VirtualMachinePath        = Join-Path $cfg.Root 'hyperv'
            VirtualHardDiskPath       = Join-Path $cfg.Root 'hyperv'
        }
    }
}

function Get-VMSwitch {
    [CmdletBinding()]
    param([Parameter(Position = 0)][string[]]$Name, [string]$SwitchType)
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    end {
        $all = @((Get-SimConfig).Switches)
        $selected = if ($null -eq $Name) { $all } else {
            foreach ($n in $Name) {
                $m = @($all | Where-Object { Test-SimWildcardMatch $_.Name @($n) })
                if ($m.Count -eq 0 -and -not [System.Management.Automation.WildcardPattern]::ContainsWildcardCharacters($n)) {
                    $PSCmdlet.WriteError((New-SimError 'ERR_SWITCH_NOT_FOUND' "Hyper-V was unable to find a virtual switch with name '$n'." 'ObjectNotFound' $n))
                }
                $m
            }
        }
        foreach ($s in @($selected)) {
            if ($SwitchType -and $s.SwitchType -ne $SwitchType) { continue }
            $md5 = [System.Security.Cryptography.MD5]::HashData($script:Utf8.GetBytes($s.Name.ToLowerInvariant()))
            [pscustomobject]@{
                PSTypeName = 'Microsoft.HyperV.PowerShell.VMSwitch'
                Name       = $s.Name
                Id         = [guid]::new($md5)
                SwitchType = $s.SwitchType
            }
        }
    }
}

# Simulator-only: datastore usage. capacityMB from config, used = sum of sizeBytes of the VHD
# files New-VHD created that still exist.
function Get-OpenHvxSimulatedDatastore {
    [CmdletBinding()]
    param()
    $cfg = Get-SimConfig
    $indexDir = Join-Path $cfg.Root 'vhds'
    $used = [long]0
    foreach ($f in [System.IO.Directory]::GetFiles($indexDir, '*.json')) {
        $entry = Read-SimJsonCached $f
        $path = [string](Get-SimProp $entry 'path' '')
        $doc = $null
        if ($path -and [System.IO.File]::Exists($path)) { try { $doc = Read-SimVhd $path } catch { $doc = $null } }
        if ($null -eq $doc) { try { [System.IO.File]::Delete($f) } catch { } ; continue }   # stale entry
        $used += $doc.sizeBytes
    }
    $usedMB = [long][math]::Ceiling($used / 1MB)
    [pscustomobject]@{
        Name       = 'sim-datastore'
        Path       = $cfg.Root
        capacityMB = $cfg.StorageMB
        usedMB     = $usedMB
        freeMB     = [long][math]::Max(0, $cfg.StorageMB - $usedMB)
    }
}

# Simulator-only: what real hosts report outside Hyper-V (CIM), e.g. the CPU model.
# Config: host.cpuModel (optional; null when absent).
function Get-OpenHvxSimulatedHost {
    [CmdletBinding()]
    param()
    $cfg = Get-SimConfig
    $model = if ($null -ne $cfg.CpuModel -and ([string]$cfg.CpuModel).Trim()) { ([string]$cfg.CpuModel).Trim() } else { $null }
    [pscustomobject]@{
        Name              = $cfg.HostName
        LogicalProcessors = $cfg.LogicalProcessors
        CpuModel          = $model
    }
}

#endregion

#region VMs

function Get-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'Id', Mandatory, Position = 0)][guid]$Id,
        [string[]]$ComputerName
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    end {
        if ($PSCmdlet.ParameterSetName -eq 'Id') {
            $rec = Read-SimVMRecord $Id
            if ($null -eq $rec) {
                $PSCmdlet.WriteError((New-SimError 'ERR_VM_NOT_FOUND' "Hyper-V was unable to find a virtual machine with id '$Id'." 'ObjectNotFound' $Id))
                return
            }
            return ConvertTo-SimVM $rec
        }
        $recs = if ($null -eq $Name) { @(Get-SimVMRecords) | Sort-Object { [string]$_.name } } else { Resolve-SimVMRecords $PSCmdlet $null $Name }
        ConvertTo-SimVMList @($recs) (Get-SimConfig).HostName
    }
}

function New-VM {
    [CmdletBinding(DefaultParameterSetName = 'NoVHD')]
    param(
        [Parameter(Position = 0)][string]$Name = 'New Virtual Machine',
        [Parameter(Position = 1)][long]$MemoryStartupBytes = 1GB,
        [ValidateSet(1, 2)][int16]$Generation = 1,
        [string]$Path,
        [Parameter(ParameterSetName = 'ExistingVHD', Mandatory)][string]$VHDPath,
        [Parameter(ParameterSetName = 'NoVHD')][switch]$NoVHD,
        [string]$SwitchName,
        [string]$Version,
        [switch]$Force
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    end {
        Assert-SimVMName $Name -AsFolderName:([bool]$Path)
        $cfg = Get-SimConfig
        $id = [guid]::NewGuid()
        if ($SwitchName) { Assert-SimSwitch $SwitchName }
        $vmPath = Join-Path $cfg.Root 'hyperv'
        $configFile = $null
        if ($Path) {
            $vmPath = Join-Path (Resolve-SimPath $PSCmdlet $Path) $Name
            $configFile = Join-Path (Join-Path $vmPath 'Virtual Machines') ('{0}.vmcx' -f $id.ToString().ToUpperInvariant())
        }
        $rec = [pscustomobject]@{
            id                   = $id.ToString()
            name                 = $Name
            state                = 'Off'
            processorCount       = 1
            memoryStartup        = $MemoryStartupBytes
            dynamicMemoryEnabled = $false
            memoryMinimum        = [long]512MB
            memoryMaximum        = [long]1TB
            generation           = [int]$Generation
            path                 = $vmPath
            configFile           = $configFile
            hardDrives           = @()
            dvdDrives            = @()
            networkAdapters      = @([pscustomobject]@{
                    id         = [guid]::NewGuid().ToString().ToUpperInvariant()
                    name       = 'Network Adapter'
                    switchName = $(if ($SwitchName) { (Get-SimSwitch $SwitchName).Name } else { $null })
                    macAddress = '00155D{0:X6}' -f [System.Random]::Shared.Next(0, 0xFFFFFF)
                })
            secureBoot           = $(if ($Generation -eq 2) { 'On' } else { 'Off' })
            secureBootTemplate   = $(if ($Generation -eq 2) { 'MicrosoftWindows' } else { $null })
            notes                = ''
            creationTime         = [DateTime]::UtcNow.ToString('o')
            startedAt            = $null
        }
        if ($rec.memoryMinimum -gt $MemoryStartupBytes) { $rec.memoryMinimum = $MemoryStartupBytes }
        Assert-SimMemory $rec
        if ($PSCmdlet.ParameterSetName -eq 'ExistingVHD') {
            $vhd = Resolve-SimPath $PSCmdlet $VHDPath
            $doc = Read-SimVhd $vhd
            if ($Generation -eq 2 -and $doc.format -ne 'VHDX') {
                throw (New-SimError 'ERR_INVALID_ARGUMENT' "Generation 2 virtual machines need a VHDX disk; '$vhd' is $($doc.format)." 'InvalidArgument' $vhd)
            }
            [void](Add-SimDrive $rec 'hard' $vhd)
        }
        if ($Generation -eq 1) {
            # Gen 1 VMs get an empty DVD drive at IDE 1:0
            $rec.dvdDrives = @([pscustomobject]@{ path = $null; controllerType = 'IDE'; controllerNumber = 1; controllerLocation = 0 })
        }
        if ($configFile) {
            [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($configFile))
            [System.IO.File]::WriteAllText($configFile, (@{ id = $rec.id; simulated = $true } | ConvertTo-Json -Compress), $script:Utf8)
        }
        $lock = Enter-SimLock
        try { Save-SimVMRecord $rec } finally { $lock.Dispose() }
        ConvertTo-SimVM $rec
    }
}

function Remove-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [switch]$Force,
        [switch]$Passthru
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        foreach ($rec in (Resolve-SimVMRecords $PSCmdlet $VM $Name)) {
            try {
                # Real Remove-VM asks for confirmation without -Force, which fails in a host with no UI.
                if (-not $Force) { throw (New-SimError 'ERR_CONFIRMATION_REQUIRED' "Remove-VM '$($rec.name)' needs -Force in a non-interactive host." 'InvalidOperation' $rec.name) }
                $lock = Enter-SimLock
                try {
                    $path = Get-SimVMPath ([guid]$rec.id)
                    $current = Read-SimJsonFile $path
                    if ($null -eq $current) { throw (New-SimError 'ERR_VM_NOT_FOUND' "The virtual machine '$($rec.name)' no longer exists." 'ObjectNotFound' $rec.name) }
                    [System.IO.File]::Delete($path)
                    if ($current.configFile -and [System.IO.File]::Exists([string]$current.configFile)) { [System.IO.File]::Delete([string]$current.configFile) }
                }
                finally { $lock.Dispose() }
                if ($Passthru) { ConvertTo-SimVM $current }
            }
            catch { Write-SimItemError $PSCmdlet $_ }
        }
    }
}

function Rename-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [Parameter(Mandatory, Position = 1)][string]$NewName,
        [switch]$Passthru
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name; Assert-SimVMName $NewName }
    process {
        Invoke-SimVMChange $PSCmdlet $VM $Name { param($r) $r.name = $NewName } -Passthru:$Passthru
    }
}

function Set-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [long]$ProcessorCount,
        [long]$MemoryStartupBytes,
        [long]$MemoryMinimumBytes,
        [long]$MemoryMaximumBytes,
        [switch]$DynamicMemory,
        [switch]$StaticMemory,
        [string]$NewVMName,
        [string]$Notes,
        [switch]$Passthru
    )
    begin {
        Invoke-SimBehaviour $MyInvocation.MyCommand.Name
        if ($DynamicMemory -and $StaticMemory) { throw (New-SimError 'ERR_INVALID_ARGUMENT' '-DynamicMemory and -StaticMemory cannot be used together.' 'InvalidArgument') }
        if ($PSBoundParameters.ContainsKey('NewVMName')) { Assert-SimVMName $NewVMName }
        $bound = $PSBoundParameters
    }
    process {
        Invoke-SimVMChange $PSCmdlet $VM $Name {
            param($r)
            if ($bound.ContainsKey('ProcessorCount')) { Set-SimProcessorCount $r $ProcessorCount }
            $mem = @{}
            if ($DynamicMemory) { $mem.dynamic = $true }
            if ($StaticMemory) { $mem.dynamic = $false }
            if ($bound.ContainsKey('MemoryStartupBytes')) { $mem.startup = $MemoryStartupBytes }
            if ($bound.ContainsKey('MemoryMinimumBytes')) { $mem.minimum = $MemoryMinimumBytes }
            if ($bound.ContainsKey('MemoryMaximumBytes')) { $mem.maximum = $MemoryMaximumBytes }
            if ($mem.Count -gt 0) { Set-SimMemory $r $mem }
            if ($bound.ContainsKey('NewVMName')) { $r.name = $NewVMName }
            if ($bound.ContainsKey('Notes')) { $r.notes = $Notes }
        } -Passthru:$Passthru
    }
}

function Get-VMProcessor {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        foreach ($r in (Resolve-SimVMRecords $PSCmdlet $VM $VMName)) {
            [pscustomobject]@{ PSTypeName = 'Microsoft.HyperV.PowerShell.VMProcessor'; Count = [long]$r.processorCount; VMName = [string]$r.name; VMId = [guid]$r.id }
        }
    }
}

function Set-VMProcessor {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [Parameter(Position = 1)][long]$Count,
        [switch]$Passthru
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name; $bound = $PSBoundParameters }
    process {
        Invoke-SimVMChange $PSCmdlet $VM $VMName { param($r) if ($bound.ContainsKey('Count')) { Set-SimProcessorCount $r $Count } } -Passthru:$Passthru
    }
}

function Get-VMMemory {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        foreach ($r in (Resolve-SimVMRecords $PSCmdlet $VM $VMName)) {
            [pscustomobject]@{
                PSTypeName           = 'Microsoft.HyperV.PowerShell.VMMemory'
                Startup              = [long]$r.memoryStartup
                DynamicMemoryEnabled = [bool]$r.dynamicMemoryEnabled
                Minimum              = [long]$r.memoryMinimum
                Maximum              = [long]$r.memoryMaximum
                VMName               = [string]$r.name
                VMId                 = [guid]$r.id
            }
        }
    }
}

function Set-VMMemory {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [long]$StartupBytes,
        [bool]$DynamicMemoryEnabled,
        [long]$MinimumBytes,
        [long]$MaximumBytes,
        [switch]$Passthru
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name; $bound = $PSBoundParameters }
    process {
        Invoke-SimVMChange $PSCmdlet $VM $VMName {
            param($r)
            $mem = @{}
            if ($bound.ContainsKey('DynamicMemoryEnabled')) { $mem.dynamic = $DynamicMemoryEnabled }
            if ($bound.ContainsKey('StartupBytes')) { $mem.startup = $StartupBytes }
            if ($bound.ContainsKey('MinimumBytes')) { $mem.minimum = $MinimumBytes }
            if ($bound.ContainsKey('MaximumBytes')) { $mem.maximum = $MaximumBytes }
            Set-SimMemory $r $mem
        } -Passthru:$Passthru
    }
}

function Get-VMFirmware {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        foreach ($r in (Resolve-SimVMRecords $PSCmdlet $VM $VMName)) {
            if ([int]$r.generation -ne 2) { Write-SimItemError $PSCmdlet (New-SimError 'ERR_UNSUPPORTED' "'$($r.name)' is a generation 1 virtual machine and has no UEFI firmware." 'InvalidOperation' $r.name); continue }
            [pscustomobject]@{ PSTypeName = 'Microsoft.HyperV.PowerShell.VMFirmware'; SecureBoot = [string]$r.secureBoot; SecureBootTemplate = [string]$r.secureBootTemplate; VMName = [string]$r.name; VMId = [guid]$r.id }
        }
    }
}

function Set-VMFirmware {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [ValidateSet('On', 'Off')][string]$EnableSecureBoot,
        [ValidateSet('MicrosoftWindows', 'MicrosoftUEFICertificateAuthority', 'OpenSourceShieldedVM')][string]$SecureBootTemplate,
        [switch]$Passthru
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name; $bound = $PSBoundParameters }
    process {
        Invoke-SimVMChange $PSCmdlet $VM $VMName {
            param($r)
            if ([int]$r.generation -ne 2) { throw (New-SimError 'ERR_UNSUPPORTED' "'$($r.name)' is a generation 1 virtual machine and has no UEFI firmware." 'InvalidOperation' $r.name) }
            Assert-SimState $r 'Off' 'change firmware settings'
            if ($bound.ContainsKey('EnableSecureBoot')) { $r.secureBoot = $EnableSecureBoot }
            if ($bound.ContainsKey('SecureBootTemplate')) { $r.secureBootTemplate = $SecureBootTemplate }
        } -Passthru:$Passthru
    }
}

#endregion

#region Power

function Start-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [switch]$Passthru
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        Invoke-SimVMChange $PSCmdlet $VM $Name {
            param($r)
            Assert-SimState $r 'Off', 'Saved' 'start'
            Assert-SimBootable $r
            Assert-SimMemoryAvailable $r ([long]$r.memoryStartup)
            Set-SimRunState $r 'Running'
        } -Passthru:$Passthru
    }
}

function Stop-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [switch]$Force,
        [switch]$TurnOff,
        [switch]$Save,
        [switch]$Passthru,
        [switch]$AsJob
    )
    begin {
        Invoke-SimBehaviour $MyInvocation.MyCommand.Name
        if ($TurnOff -and $Save) { throw (New-SimError 'ERR_INVALID_ARGUMENT' '-TurnOff and -Save cannot be used together.' 'InvalidArgument') }
        $guestResponds = (Get-SimConfig).GuestShutdown.Respond
        $simJob = $null
        $neverCompletes = $false
        if ($AsJob) {
            $simJob = [OpenHvxSimulatedJob]::new('Stop-VM', 'Stop-VM')
            $PSCmdlet.JobRepository.Add($simJob)
            $simJob.SetSimState('Running')
        }
        $mutate = {
            param($r)
            $state = [string]$r.state
            if ($Save) {
                if ($state -in 'Running', 'Paused') { Set-SimRunState $r 'Saved' }
                elseif ($state -ne 'Saved') { Assert-SimState $r 'Running', 'Paused' 'save' }
            }
            elseif ($state -eq 'Saved') {
                # Discarding a saved state is confirmed interactively by the real cmdlet.
                if (-not ($TurnOff -or $Force)) { throw (New-SimError 'ERR_CONFIRMATION_REQUIRED' "'$($r.name)' is saved; Stop-VM needs -TurnOff or -Force to discard the saved state." 'InvalidOperation' $r.name) }
                Set-SimRunState $r 'Off'
            }
            elseif ($state -eq 'Paused' -and -not $TurnOff) { Assert-SimState $r 'Running' 'shut down' }
            elseif ($state -ne 'Off') { Set-SimRunState $r 'Off' }
        }
    }
    process {
        foreach ($rec in (Resolve-SimVMRecords $PSCmdlet $VM $Name)) {
            try {
                if (-not $guestResponds -and -not $TurnOff -and -not $Save -and [string]$rec.state -eq 'Running') {
                    # The guest ignores the shutdown request: the VM stays Running and the call never returns.
                    if ($AsJob) { $neverCompletes = $true; continue }
                    while ($true) { Start-Sleep -Milliseconds 200 }   # interruptible by PowerShell.Stop()
                }
                $updated = Update-SimVMRecord ([guid]$rec.id) $mutate
                if ($Passthru) {
                    if ($AsJob) { $simJob.Output.Add([psobject](ConvertTo-SimVM $updated)) }
                    else { $PSCmdlet.WriteObject((ConvertTo-SimVM $updated)) }
                }
            }
            catch {
                if ($AsJob -and $_.FullyQualifiedErrorId -like 'ERR_*') { $simJob.Error.Add($_) }
                else { Write-SimItemError $PSCmdlet $_ }
            }
        }
    }
    end {
        if ($AsJob) {
            if (-not $neverCompletes) { $simJob.SetSimState($(if ($simJob.Error.Count -gt 0) { 'Failed' } else { 'Completed' })) }
            $simJob
        }
    }
}

function Suspend-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [switch]$Passthru
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        Invoke-SimVMChange $PSCmdlet $VM $Name { param($r) Assert-SimState $r 'Running' 'pause'; Set-SimRunState $r 'Paused' } -Passthru:$Passthru
    }
}

function Resume-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [switch]$Passthru
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        Invoke-SimVMChange $PSCmdlet $VM $Name { param($r) Assert-SimState $r 'Paused' 'resume'; Set-SimRunState $r 'Running' } -Passthru:$Passthru
    }
}

function Save-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [switch]$Passthru
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        Invoke-SimVMChange $PSCmdlet $VM $Name { param($r) Assert-SimState $r 'Running', 'Paused' 'save'; Set-SimRunState $r 'Saved' } -Passthru:$Passthru
    }
}

function Restart-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory, Position = 0)][string[]]$Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [switch]$Force,
        [switch]$Passthru
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        Invoke-SimVMChange $PSCmdlet $VM $Name {
            param($r)
            if (-not $Force) { throw (New-SimError 'ERR_CONFIRMATION_REQUIRED' "Restart-VM '$($r.name)' needs -Force in a non-interactive host." 'InvalidOperation' $r.name) }
            Assert-SimState $r 'Running' 'restart'
            $r.startedAt = [DateTime]::UtcNow.ToString('o')
        } -Passthru:$Passthru
    }
}

#endregion

#region Disks

function New-VHD {
    [CmdletBinding(DefaultParameterSetName = 'DynamicWithoutSource')]
    param(
        [Parameter(Mandatory, Position = 0)][string[]]$Path,
        [Parameter(ParameterSetName = 'DynamicWithoutSource', Mandatory, Position = 1)]
        [Parameter(ParameterSetName = 'FixedWithoutSource', Mandatory, Position = 1)]
        [Parameter(ParameterSetName = 'Differencing', Position = 2)][uint64]$SizeBytes,
        [Parameter(ParameterSetName = 'Differencing', Mandatory, Position = 1)][string]$ParentPath,
        [Parameter(ParameterSetName = 'Differencing')][switch]$Differencing,
        [Parameter(ParameterSetName = 'DynamicWithoutSource')][switch]$Dynamic,
        [Parameter(ParameterSetName = 'FixedWithoutSource', Mandatory)][switch]$Fixed
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    end {
        foreach ($p in $Path) {
            try {
                $full = Resolve-SimPath $PSCmdlet $p
                $format = Get-SimVhdFormat $full
                if (-not [System.IO.Directory]::Exists([System.IO.Path]::GetDirectoryName($full))) {
                    throw (New-SimError 'ERR_FILE_NOT_FOUND' "The system cannot find the path specified: '$([System.IO.Path]::GetDirectoryName($full))'." 'ObjectNotFound' $full)
                }
                if ([System.IO.File]::Exists($full)) { throw (New-SimError 'ERR_FILE_EXISTS' "The file '$full' already exists." 'ResourceExists' $full) }
                if ($PSCmdlet.ParameterSetName -eq 'Differencing') {
                    $parentFull = Resolve-SimPath $PSCmdlet $ParentPath
                    $parent = Read-SimVhd $parentFull
                    if ($parent.format -ne $format) { throw (New-SimError 'ERR_INVALID_ARGUMENT' "A differencing disk must have the format of its parent ($($parent.format))." 'InvalidArgument' $full) }
                    $size = [long]$parent.sizeBytes
                    if ($PSBoundParameters.ContainsKey('SizeBytes') -and [long]$SizeBytes -ne $size) {
                        if ([long]$SizeBytes -lt $size) { throw (New-SimError 'ERR_INVALID_ARGUMENT' 'A differencing disk cannot be smaller than its parent.' 'InvalidArgument' $full) }
                        $size = [long]$SizeBytes
                    }
                    $doc = [pscustomobject]@{ format = $format; type = 'Differencing'; sizeBytes = $size; parentPath = $parentFull }
                }
                else {
                    if ($SizeBytes -lt 3MB -or ($SizeBytes % 512) -ne 0) { throw (New-SimError 'ERR_INVALID_ARGUMENT' 'SizeBytes must be at least 3 MB and a multiple of 512.' 'InvalidArgument' $SizeBytes) }
                    $type = if ($Fixed) { 'Fixed' } else { 'Dynamic' }
                    $doc = [pscustomobject]@{ format = $format; type = $type; sizeBytes = [long]$SizeBytes; parentPath = $null }
                }
                try { Write-SimVhd $full $doc -CreateNew }
                catch [System.IO.IOException] { throw (New-SimError 'ERR_FILE_EXISTS' "The file '$full' already exists." 'ResourceExists' $full) }
                ConvertTo-SimVhdObject $full $doc
            }
            catch { Write-SimItemError $PSCmdlet $_ }
        }
    }
}

function Get-VHD {
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)][Alias('FullName')][string[]]$Path)
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        foreach ($p in $Path) {
            try { $full = Resolve-SimPath $PSCmdlet $p; ConvertTo-SimVhdObject $full (Read-SimVhd $full) }
            catch { Write-SimItemError $PSCmdlet $_ }
        }
    }
}

function Resize-VHD {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipelineByPropertyName)][Alias('FullName')][string[]]$Path,
        [Parameter(Mandatory, Position = 1)][uint64]$SizeBytes,
        [switch]$Passthru
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        foreach ($p in $Path) {
            try {
                $full = Resolve-SimPath $PSCmdlet $p
                $lock = Enter-SimLock
                try {
                    $doc = Read-SimVhd $full
                    if ([long]$SizeBytes -lt $doc.sizeBytes) {
                        throw (New-SimError 'ERR_INVALID_ARGUMENT' "'$full' cannot shrink from $($doc.sizeBytes) to $SizeBytes bytes." 'InvalidArgument' $full)
                    }
                    if (($SizeBytes % 512) -ne 0) { throw (New-SimError 'ERR_INVALID_ARGUMENT' 'SizeBytes must be a multiple of 512.' 'InvalidArgument' $SizeBytes) }
                    $doc.sizeBytes = [long]$SizeBytes
                    Write-SimVhd $full $doc
                }
                finally { $lock.Dispose() }
                if ($Passthru) { ConvertTo-SimVhdObject $full $doc }
            }
            catch { Write-SimItemError $PSCmdlet $_ }
        }
    }
}

function Get-VMHardDiskDrive {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        foreach ($r in (Resolve-SimVMRecords $PSCmdlet $VM $VMName)) {
            foreach ($d in @($r.hardDrives)) { Get-SimDriveObject $r $d 'HardDiskDrive' }
        }
    }
}

function Add-VMHardDiskDrive {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [Parameter(Mandatory, Position = 4)][string]$Path,
        [switch]$Passthru
    )
    begin {
        Invoke-SimBehaviour $MyInvocation.MyCommand.Name
        $full = Resolve-SimPath $PSCmdlet $Path
        [void](Read-SimVhd $full)
    }
    process {
        foreach ($rec in (Resolve-SimVMRecords $PSCmdlet $VM $VMName)) {
            try {
                $updated = Update-SimVMRecord ([guid]$rec.id) { param($r) [void](Add-SimDrive $r 'hard' $full) }
                if ($Passthru) { Get-SimDriveObject $updated @($updated.hardDrives)[-1] 'HardDiskDrive' }
            }
            catch { Write-SimItemError $PSCmdlet $_ }
        }
    }
}

function Remove-VMHardDiskDrive {
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VMHardDiskDrive, [switch]$Passthru)
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        foreach ($d in $VMHardDiskDrive) {
            try {
                [void](Update-SimVMRecord ([guid]$d.VMId) {
                        param($r)
                        if ($d.ControllerType -eq 'IDE') { Assert-SimState $r 'Off' 'remove an IDE drive' }
                        $r.hardDrives = @(@($r.hardDrives) | Where-Object { -not ($_.controllerType -eq $d.ControllerType -and [int]$_.controllerNumber -eq $d.ControllerNumber -and [int]$_.controllerLocation -eq $d.ControllerLocation) })
                    })
                if ($Passthru) { $d }
            }
            catch { Write-SimItemError $PSCmdlet $_ }
        }
    }
}

function Get-VMDvdDrive {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        foreach ($r in (Resolve-SimVMRecords $PSCmdlet $VM $VMName)) {
            foreach ($d in @($r.dvdDrives)) { Get-SimDriveObject $r $d 'DvdDrive' }
        }
    }
}

function Add-VMDvdDrive {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [Parameter(Position = 3)][string]$Path,
        [switch]$Passthru
    )
    begin {
        Invoke-SimBehaviour $MyInvocation.MyCommand.Name
        $full = $null
        if ($Path) {
            $full = Resolve-SimPath $PSCmdlet $Path
            if (-not [System.IO.File]::Exists($full)) { throw (New-SimError 'ERR_FILE_NOT_FOUND' "The system cannot find the file '$full'." 'ObjectNotFound' $full) }
        }
    }
    process {
        foreach ($rec in (Resolve-SimVMRecords $PSCmdlet $VM $VMName)) {
            try {
                $updated = Update-SimVMRecord ([guid]$rec.id) { param($r) [void](Add-SimDrive $r 'dvd' $full) }
                if ($Passthru) { Get-SimDriveObject $updated @($updated.dvdDrives)[-1] 'DvdDrive' }
            }
            catch { Write-SimItemError $PSCmdlet $_ }
        }
    }
}

function Remove-VMDvdDrive {
    [CmdletBinding()]
    param([Parameter(Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VMDvdDrive, [switch]$Passthru)
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        foreach ($d in $VMDvdDrive) {
            try {
                [void](Update-SimVMRecord ([guid]$d.VMId) {
                        param($r)
                        Assert-SimState $r 'Off' 'remove a DVD drive'
                        $r.dvdDrives = @(@($r.dvdDrives) | Where-Object { -not ($_.controllerType -eq $d.ControllerType -and [int]$_.controllerNumber -eq $d.ControllerNumber -and [int]$_.controllerLocation -eq $d.ControllerLocation) })
                    })
                if ($Passthru) { $d }
            }
            catch { Write-SimItemError $PSCmdlet $_ }
        }
    }
}

#endregion

#region Network adapters

function Get-VMNetworkAdapter {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VM,
        [string]$Name
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        foreach ($r in (Resolve-SimVMRecords $PSCmdlet $VM $VMName)) {
            foreach ($a in @($r.networkAdapters)) {
                if ($Name -and -not (Test-SimWildcardMatch ([string]$a.name) @($Name))) { continue }
                Get-SimAdapterObject $r $a
            }
        }
    }
}

# Real Connect-VMNetworkAdapter has no -VM parameter: use
#   Get-VMNetworkAdapter -VM $vm | Connect-VMNetworkAdapter -SwitchName $switch
function Connect-VMNetworkAdapter {
    [CmdletBinding(DefaultParameterSetName = 'Name_SwitchName')]
    param(
        [Parameter(ParameterSetName = 'Name_SwitchName', Mandatory, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'Name_SwitchName', Position = 1)][string[]]$Name,
        [Parameter(ParameterSetName = 'Object_SwitchName', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VMNetworkAdapter,
        [Parameter(Mandatory, Position = 2)][string]$SwitchName,
        [switch]$Passthru
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name; Assert-SimSwitch $SwitchName; $canonical = (Get-SimSwitch $SwitchName).Name }
    process {
        $targets = if ($PSCmdlet.ParameterSetName -eq 'Object_SwitchName') { $VMNetworkAdapter } else {
            foreach ($r in (Resolve-SimVMRecords $PSCmdlet $null $VMName)) {
                foreach ($a in @($r.networkAdapters)) { if ($null -eq $Name -or (Test-SimWildcardMatch ([string]$a.name) $Name)) { Get-SimAdapterObject $r $a } }
            }
        }
        foreach ($t in @($targets)) {
            try {
                $adapterId = ([string]$t.Id).Split('\')[-1]
                $updated = Update-SimVMRecord ([guid]$t.VMId) { param($r) foreach ($a in @($r.networkAdapters)) { if ($a.id -eq $adapterId) { $a.switchName = $canonical } } }
                if ($Passthru) { Get-SimAdapterObject $updated (@($updated.networkAdapters) | Where-Object { $_.id -eq $adapterId }) }
            }
            catch { Write-SimItemError $PSCmdlet $_ }
        }
    }
}

function Disconnect-VMNetworkAdapter {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory, Position = 0)][string[]]$VMName,
        [Parameter(ParameterSetName = 'Name', Position = 1)][string[]]$Name,
        [Parameter(ParameterSetName = 'Obj', Mandatory, Position = 0, ValueFromPipeline)][psobject[]]$VMNetworkAdapter,
        [switch]$Passthru
    )
    begin { Invoke-SimBehaviour $MyInvocation.MyCommand.Name }
    process {
        $targets = if ($PSCmdlet.ParameterSetName -eq 'Obj') { $VMNetworkAdapter } else {
            foreach ($r in (Resolve-SimVMRecords $PSCmdlet $null $VMName)) {
                foreach ($a in @($r.networkAdapters)) { if ($null -eq $Name -or (Test-SimWildcardMatch ([string]$a.name) $Name)) { Get-SimAdapterObject $r $a } }
            }
        }
        foreach ($t in @($targets)) {
            try {
                $adapterId = ([string]$t.Id).Split('\')[-1]
                $updated = Update-SimVMRecord ([guid]$t.VMId) { param($r) foreach ($a in @($r.networkAdapters)) { if ($a.id -eq $adapterId) { $a.switchName = $null } } }
                if ($Passthru) { Get-SimAdapterObject $updated (@($updated.networkAdapters) | Where-Object { $_.id -eq $adapterId }) }
            }
            catch { Write-SimItemError $PSCmdlet $_ }
        }
    }
}

#endregion

Export-ModuleMember -Function @(
    'Get-VMHost', 'Get-VMSwitch', 'Get-OpenHvxSimulatedDatastore', 'Get-OpenHvxSimulatedHost',
    'Get-VM', 'New-VM', 'Remove-VM', 'Rename-VM', 'Set-VM',
    'Get-VMProcessor', 'Set-VMProcessor', 'Get-VMMemory', 'Set-VMMemory', 'Get-VMFirmware', 'Set-VMFirmware',
    'Start-VM', 'Stop-VM', 'Suspend-VM', 'Resume-VM', 'Save-VM', 'Restart-VM',
    'New-VHD', 'Get-VHD', 'Resize-VHD',
    'Get-VMHardDiskDrive', 'Add-VMHardDiskDrive', 'Remove-VMHardDiskDrive',
    'Get-VMDvdDrive', 'Add-VMDvdDrive', 'Remove-VMDvdDrive',
    'Get-VMNetworkAdapter', 'Connect-VMNetworkAdapter', 'Disconnect-VMNetworkAdapter'
)
