# vm.create: creates a tenant VM from an image (differencing disk), seeds cloud-init (NoCloud)
# and starts it. Runs unchanged against real Hyper-V and the simulated module.
# Every parameter is literal data: nothing here evaluates it, and VMs are addressed by object
# or Id, never by name (Hyper-V reads names as wildcards).
param(
    [Parameter(Mandatory)][string]$TaskId,
    [Parameter(Mandatory)][string]$TenantId,
    [Parameter(Mandatory)][string]$Name,
    [Parameter(Mandatory)][ValidateRange(1, 64)][int]$Cpu,
    [Parameter(Mandatory)][long]$MemoryMB,
    [Parameter(Mandatory)][int]$StorageGB,
    [Parameter(Mandatory)][string]$ImageFile,
    [ValidateSet(1, 2)][int]$Generation = 2,
    [string]$SwitchName,
    [Parameter(Mandatory)][string]$BasePath,
    [string]$CloudInitJson = '{}'
)
Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'OpenHvx.Agent.psm1')

function Stop-Invalid([string]$Message) { throw (New-OpenHvxError 'ERR_INVALID_ARGUMENT' $Message) }

#region Cloud-init input (CloudInitJson): read typed fields, ignore unknown keys

function Get-CiValue($Object, [string]$Key) {
    $p = $Object.PSObject.Properties[$Key]
    if ($null -eq $p) { return $null }
    return , $p.Value
}

function Get-CiString($Object, [string]$Key, [string]$Default) {
    $v = Get-CiValue $Object $Key
    if ($null -eq $v) { return $Default }
    if ($v -isnot [string]) { Stop-Invalid "cloudInit.$Key must be a string." }
    return $v
}

function Get-CiStringList($Object, [string]$Key) {
    $v = Get-CiValue $Object $Key
    $list = [System.Collections.Generic.List[string]]::new()
    if ($null -eq $v) { return , $list }
    if ($v -isnot [array]) { Stop-Invalid "cloudInit.$Key must be an array of strings." }
    foreach ($item in $v) {
        if ($item -isnot [string]) { Stop-Invalid "cloudInit.$Key must be an array of strings." }
        $list.Add($item)
    }
    return , $list
}

# runcmd entries are either a shell string or an argv array of strings.
function Get-CiRunCmd($Object) {
    $v = Get-CiValue $Object 'runcmd'
    $list = [System.Collections.Generic.List[object]]::new()
    if ($null -eq $v) { return , $list }
    if ($v -isnot [array]) { Stop-Invalid 'cloudInit.runcmd must be an array.' }
    foreach ($item in $v) {
        if ($item -is [string]) { $list.Add($item); continue }
        if ($item -is [array] -and $item.Count -gt 0 -and @($item | Where-Object { $_ -isnot [string] }).Count -eq 0) {
            $list.Add([string[]]$item)
            continue
        }
        Stop-Invalid 'cloudInit.runcmd entries must be strings or non-empty arrays of strings.'
    }
    return , $list
}

function Test-IpAddress([string]$Text, [System.Net.Sockets.AddressFamily]$Family) {
    $ip = $null
    if (-not [System.Net.IPAddress]::TryParse($Text, [ref]$ip) -or $ip.AddressFamily -ne $Family) { return $false }
    # TryParse also takes legacy IPv4 forms such as "10.1"; require a dotted quad.
    return ($Family -ne 'InterNetwork' -or $Text -match '\A\d{1,3}(\.\d{1,3}){3}\z')
}

function Get-NetworkConfig($CloudInit) {
    $net = Get-CiValue $CloudInit 'network'
    $mode = 'dhcp'
    if ($null -ne $net) {
        if ($net -isnot [System.Management.Automation.PSCustomObject]) { Stop-Invalid 'cloudInit.network must be an object.' }
        $mode = Get-CiString $net 'mode' 'dhcp'
    }
    # One NIC; match it by name so the config applies whatever the guest calls it (eth0, ens*, enp*).
    $nic = [ordered]@{ match = [ordered]@{ name = 'e*' } }
    switch ($mode) {
        'dhcp' { $nic.dhcp4 = $true }
        'static' {
            $address = Get-CiString $net 'address' $null
            if (-not $address -or $address -notmatch '\A(?<ip>[^/]+)/(?<len>\d{1,3})\z') { Stop-Invalid 'cloudInit.network.address must be an address with a prefix length, e.g. 10.0.0.5/24.' }
            $ipText = $Matches.ip
            $prefix = [int]$Matches.len
            $family = if ($ipText.Contains(':')) { [System.Net.Sockets.AddressFamily]::InterNetworkV6 } else { [System.Net.Sockets.AddressFamily]::InterNetwork }
            $maxPrefix = if ($family -eq 'InterNetwork') { 32 } else { 128 }
            if (-not (Test-IpAddress $ipText $family) -or $prefix -gt $maxPrefix) { Stop-Invalid "cloudInit.network.address '$address' is not a valid address/prefix." }
            $nic.dhcp4 = $false
            $nic.addresses = @($address)
            $gateway = Get-CiString $net 'gateway' $null
            if ($gateway) {
                if (-not (Test-IpAddress $gateway $family)) { Stop-Invalid "cloudInit.network.gateway '$gateway' is not a valid address of the same family." }
                $nic.routes = @([ordered]@{ to = $(if ($family -eq 'InterNetwork') { '0.0.0.0/0' } else { '::/0' }); via = $gateway })
            }
            $dns = Get-CiStringList $net 'nameservers'
            foreach ($ns in $dns) {
                if (-not ((Test-IpAddress $ns 'InterNetwork') -or (Test-IpAddress $ns 'InterNetworkV6'))) { Stop-Invalid "cloudInit.network.nameservers: '$ns' is not an IP address." }
            }
            if ($dns.Count -gt 0) { $nic.nameservers = [ordered]@{ addresses = $dns.ToArray() } }
        }
        default { Stop-Invalid "cloudInit.network.mode must be 'dhcp' or 'static'." }
    }
    [ordered]@{ version = 2; ethernets = [ordered]@{ primary = $nic } }
}

#endregion

#region Validate everything before touching the host

foreach ($pair in @(@('TaskId', $TaskId), @('TenantId', $TenantId))) {
    if (-not (Test-OpenHvxPathSegment $pair[1])) { Stop-Invalid "$($pair[0]) must be 1-128 characters of A-Z a-z 0-9 . _ - (it names a folder)." }
}
if ($Name -match '\p{Cc}') { Stop-Invalid 'The VM name must not contain control characters.' }
$hostName = "$TenantId.$Name"
if ($hostName.Length -gt 100) { Stop-Invalid "The VM name is too long: '$TenantId.' plus the name must fit in 100 characters." }
if ($MemoryMB -lt 32 -or $MemoryMB -gt 12TB / 1MB -or ($MemoryMB % 2) -ne 0) { Stop-Invalid 'MemoryMB must be an even number between 32 and 12582912 (Hyper-V allocates memory in 2 MB steps).' }
if ($StorageGB -lt 1 -or $StorageGB -gt 65536) { Stop-Invalid 'StorageGB must be between 1 and 65536.' }
if (-not [System.IO.Path]::IsPathFullyQualified($BasePath)) { Stop-Invalid 'BasePath must be an absolute path.' }

$base = [System.IO.Path]::TrimEndingDirectorySeparator([System.IO.Path]::GetFullPath($BasePath))
$imagesDir = Join-Path $base 'images'
# A plain file name only: no separators, no traversal, no wildcard characters.
if ($ImageFile -notmatch '\A[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,200}\z' -or $ImageFile.EndsWith('.') -or $ImageFile.EndsWith(' ')) {
    throw (New-OpenHvxError 'ERR_IMAGE_PATH' "ImageFile must be a plain file name inside the images folder, got '$ImageFile'.")
}
$imagePath = [System.IO.Path]::GetFullPath((Join-Path $imagesDir $ImageFile))
if (-not (Test-OpenHvxPathUnder $imagePath $imagesDir) -or [System.IO.Path]::GetDirectoryName($imagePath) -ne $imagesDir) {
    throw (New-OpenHvxError 'ERR_IMAGE_PATH' "ImageFile '$ImageFile' resolves outside the images folder.")
}
$imageExt = [System.IO.Path]::GetExtension($imagePath).ToLowerInvariant()
if ($imageExt -notin '.vhdx', '.vhd') { throw (New-OpenHvxError 'ERR_IMAGE_PATH' "ImageFile '$ImageFile' is not a .vhdx or .vhd file.") }
if ($Generation -eq 2 -and $imageExt -ne '.vhdx') { Stop-Invalid 'Generation 2 VMs need a .vhdx image.' }
if (-not [System.IO.File]::Exists($imagePath)) {
    throw (New-OpenHvxError 'ERR_IMAGE_MISSING' "image not found: $ImageFile" 'ObjectNotFound')
}

if ($SwitchName) {
    # Exact, case-insensitive match over all switches (Get-VMSwitch -Name would read wildcards).
    $vmSwitch = @(Get-VMSwitch | Where-Object { $_.Name -eq $SwitchName }) | Select-Object -First 1
    if ($null -eq $vmSwitch) { throw (New-OpenHvxError 'ERR_SWITCH_MISSING' "virtual switch not found: $SwitchName" 'ObjectNotFound') }
    $SwitchName = $vmSwitch.Name
}

if ([string]::IsNullOrWhiteSpace($CloudInitJson)) { $CloudInitJson = '{}' }
try { $ci = ConvertFrom-Json -InputObject $CloudInitJson -DateKind String }
catch { Stop-Invalid "CloudInitJson is not valid JSON: $($_.Exception.Message)" }
if ($ci -isnot [System.Management.Automation.PSCustomObject]) { Stop-Invalid 'CloudInitJson must be a JSON object.' }

$guestHostname = Get-CiString $ci 'hostname' $Name
$userName = Get-CiString $ci 'user' 'openhvx'
$user = [ordered]@{
    name                = $userName
    sudo                = 'ALL=(ALL) NOPASSWD:ALL'
    shell               = '/bin/bash'
    ssh_authorized_keys = (Get-CiStringList $ci 'sshAuthorizedKeys').ToArray()
}
$cloudConfig = [ordered]@{ hostname = $guestHostname; users = @($user) }
$packages = Get-CiStringList $ci 'packages'
if ($packages.Count -gt 0) { $cloudConfig.packages = $packages.ToArray() }
$runcmd = Get-CiRunCmd $ci
if ($runcmd.Count -gt 0) { $cloudConfig.runcmd = $runcmd.ToArray() }
$metaData = [ordered]@{ 'instance-id' = $TaskId; 'local-hostname' = $guestHostname }
$networkConfig = Get-NetworkConfig $ci

#endregion

$vmDir = Join-Path (Join-Path (Join-Path $base 'vms') $TenantId) $TaskId
$seedDir = Join-Path $vmDir 'seed'
$isoPath = Join-Path $vmDir 'seed.iso'
$diskPath = Join-Path $vmDir ('os' + $imageExt)
# New-VM -Path makes a sub-folder named after the VM, so create it under a safe name and
# rename it afterwards: the tenant's name never becomes part of a path.
$tempVMName = "openhvx-$TaskId"

# Serialises "is the name free? -> create -> rename" for one host name across runspaces.
$nameHash = [System.Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData([System.Text.Encoding]::UTF8.GetBytes($hostName)))
$nameMutex = [System.Threading.Mutex]::new($false, "OpenHvx.VMName.$nameHash")
$ownsMutex = $false
$vm = $null
$createdDir = $false
$succeeded = $false
$isoCreated = $false
$diskBytes = [long]0
try {
    $ownsMutex = Wait-OpenHvxMutex $nameMutex
    if (@(Get-VM | Where-Object { $_.Name -ceq $hostName }).Count -gt 0) {
        throw (New-OpenHvxError 'ERR_NAME_TAKEN' "A VM named '$Name' already exists for this tenant." 'ResourceExists')
    }
    if ([System.IO.Directory]::Exists($vmDir)) {
        throw (New-OpenHvxError 'ERR_CONFLICT' "The folder for task $TaskId already exists: $vmDir" 'ResourceExists')
    }
    [void][System.IO.Directory]::CreateDirectory($vmDir)
    $createdDir = $true

    New-VHD -Path $diskPath -ParentPath $imagePath -Differencing | Out-Null
    $diskBytes = [long](Get-VHD -Path $diskPath).Size
    $wantedBytes = [long]$StorageGB * 1GB
    if ($wantedBytes -gt $diskBytes) {
        Resize-VHD -Path $diskPath -SizeBytes $wantedBytes
        $diskBytes = $wantedBytes
    }

    [void][System.IO.Directory]::CreateDirectory($seedDir)
    Write-OpenHvxTextFile (Join-Path $seedDir 'meta-data') ((ConvertTo-OpenHvxYamlSafeJson $metaData) + "`n")
    Write-OpenHvxTextFile (Join-Path $seedDir 'user-data') ("#cloud-config`n" + (ConvertTo-OpenHvxYamlSafeJson $cloudConfig) + "`n")
    Write-OpenHvxTextFile (Join-Path $seedDir 'network-config') ((ConvertTo-OpenHvxYamlSafeJson $networkConfig) + "`n")
    $isoCreated = New-OpenHvxIsoImage -SourceDirectory $seedDir -Path $isoPath -VolumeName 'cidata'

    $newVM = @{
        Name               = $tempVMName
        Generation         = [int16]$Generation
        MemoryStartupBytes = $MemoryMB * 1MB
        Path               = $vmDir
        VHDPath            = $diskPath
    }
    if ($SwitchName) { $newVM.SwitchName = $SwitchName }
    $vm = New-VM @newVM
    Rename-VM -VM $vm -NewName $hostName
    $nameMutex.ReleaseMutex()
    $ownsMutex = $false

    Set-VMProcessor -VM $vm -Count $Cpu
    Set-VMMemory -VM $vm -StartupBytes ($MemoryMB * 1MB) -DynamicMemoryEnabled $false
    if ($Generation -eq 2) { Set-VMFirmware -VM $vm -SecureBootTemplate MicrosoftUEFICertificateAuthority }
    if ($isoCreated) { Add-VMDvdDrive -VM $vm -Path $isoPath }
    Start-VM -VM $vm
    $final = Get-VM -Id $vm.Id
    $succeeded = $true
}
finally {
    if ($ownsMutex) { $nameMutex.ReleaseMutex() }
    $nameMutex.Dispose()
    # finally (not catch) so a cancelled run (PowerShell.Stop) also cleans up. Cleanup
    # failures are only warnings: the original error is what propagates.
    if (-not $succeeded) {
        if ($null -ne $vm) {
            try {
                $current = Get-VM -Id $vm.Id -ErrorAction SilentlyContinue
                if ($null -ne $current) {
                    if ([string]$current.State -ne 'Off') { Stop-VM -VM $current -TurnOff -Force -ErrorAction Stop }
                    Remove-VM -VM $current -Force -ErrorAction Stop
                }
            }
            catch { Write-Warning "vm.create cleanup: could not remove VM $($vm.Id): $($_.Exception.Message)" }
        }
        if ($createdDir) {
            try { Remove-OpenHvxDirectory $vmDir }
            catch { Write-Warning "vm.create cleanup: could not delete ${vmDir}: $($_.Exception.Message)" }
        }
    }
}

ConvertTo-OpenHvxJson ([ordered]@{
        vm = [ordered]@{
            guid       = $final.Id.ToString()
            name       = $Name
            hostName   = $hostName
            path       = $vmDir
            cpu        = [int]$final.ProcessorCount
            memoryMB   = [long]($final.MemoryStartup / 1MB)
            storageGB  = [long][math]::Ceiling($diskBytes / 1GB)   # real size: at least the image's
            generation = [int]$final.Generation
            state      = [string]$final.State
            disks      = @($diskPath)
            seedPath   = $seedDir
            seedIso    = $(if ($isoCreated) { $isoPath } else { $null })
        }
    })
