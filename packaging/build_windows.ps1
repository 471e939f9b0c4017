<#
.SYNOPSIS
  Build the RID Desktop one-folder app and its Inno Setup installer on Windows.

.DESCRIPTION
  1. (optional) installs the build requirements into the current Python: torch==2.13.0 from the
     PyTorch CPU index (or a CUDA build with -Torch cu128), the app and PyInstaller;
  2. runs PyInstaller on packaging/rid_desktop.spec (icons and the version resource are generated
     by the spec from resources/icon.png and rid_desktop.__version__);
  3. runs both executables' --self-test (headless);
  4. signs the executables when WINDOWS_SIGN_CERT (a .pfx) is set (WINDOWS_SIGN_PASSWORD for it);
  5. compiles packaging/installer.iss with Inno Setup 6 (ISCC.exe) into build/dist.

.EXAMPLE
  powershell -ExecutionPolicy Bypass -File packaging\build_windows.ps1 -InstallDeps
.EXAMPLE
  packaging\build_windows.ps1 -Torch cu128 -InstallDeps    # GPU variant (much larger)
#>
[CmdletBinding()]
param(
  [string]$Python = "python",
  [ValidateSet("cpu", "cu126", "cu128")][string]$Torch = "cpu",
  [switch]$InstallDeps,
  [switch]$SkipInstaller,
  [string]$SelfTestArgs = "",
  [string]$Iscc = ""
)
$ErrorActionPreference = "Stop"
Set-StrictMode -Version Latest

$Root = Split-Path -Parent $PSScriptRoot
Set-Location $Root
$Dist = "build\dist"
$Work = "build\work"
$AppDir = Join-Path $Dist "RID Desktop"

function Invoke-Checked([string]$Exe, [string[]]$Arguments) {
  & $Exe @Arguments
  if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

if ($InstallDeps) {
  Write-Host "== installing build requirements (torch $Torch)"
  Invoke-Checked $Python @("-m", "pip", "install", "--upgrade", "pip")
  Invoke-Checked $Python @("-m", "pip", "install", "torch==2.13.0", "--index-url", "https://download.pytorch.org/whl/$Torch")
  Invoke-Checked $Python @("-m", "pip", "install", ".[package]")
}

$Version = (& $Python packaging\version_info.py --print-version).Trim()
Write-Host "== PyInstaller (RID Desktop $Version, torch $Torch)"
$sw = [Diagnostics.Stopwatch]::StartNew()
Invoke-Checked $Python @("-m", "PyInstaller", "--noconfirm", "--clean", "--distpath", $Dist, "--workpath", $Work, "packaging\rid_desktop.spec")
$size = (Get-ChildItem -Recurse -File $AppDir | Measure-Object -Sum Length).Sum / 1MB
Write-Host ("build time: {0:N0} s; bundle size: {1:N0} MB" -f $sw.Elapsed.TotalSeconds, $size)

Write-Host "== self-test (console executable)"
$env:QT_QPA_PLATFORM = "offscreen"
$selfTest = @("--self-test") + @($SelfTestArgs -split " " | Where-Object { $_ })  # @() so no $null element
Invoke-Checked (Join-Path $AppDir "rid-desktop.exe") $selfTest

Write-Host "== self-test (windowed executable; report also in %LOCALAPPDATA%\rid-desktop\self-test.log)"
# A GUI-subsystem exe returns immediately to the shell: wait for it to read its exit code.
$gui = Start-Process -FilePath (Join-Path $AppDir "RID Desktop.exe") -ArgumentList $selfTest -Wait -PassThru -NoNewWindow
if ($gui.ExitCode -ne 0) { throw "RID Desktop.exe --self-test failed with exit code $($gui.ExitCode)" }

if ($env:WINDOWS_SIGN_CERT) {
  Write-Host "== signing executables"
  $signtool = Get-ChildItem "${env:ProgramFiles(x86)}\Windows Kits\10\bin\*\x64\signtool.exe" | Sort-Object FullName | Select-Object -Last 1
  foreach ($exe in @("RID Desktop.exe", "rid-desktop.exe")) {
    Invoke-Checked $signtool.FullName @("sign", "/f", $env:WINDOWS_SIGN_CERT, "/p", $env:WINDOWS_SIGN_PASSWORD,
      "/fd", "sha256", "/tr", "http://timestamp.digicert.com", "/td", "sha256", (Join-Path $AppDir $exe))
  }
} else {
  Write-Host "== WINDOWS_SIGN_CERT not set: executables are unsigned (SmartScreen will warn users)"
}

if ($SkipInstaller) { return }

if (-not $Iscc) {
  $candidates = @("${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe", "$env:ProgramFiles\Inno Setup 6\ISCC.exe", "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe")
  $Iscc = $candidates | Where-Object { Test-Path $_ } | Select-Object -First 1
  if (-not $Iscc) { $Iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source }
}
if (-not $Iscc) { throw "Inno Setup 6 not found: install it (choco install innosetup) or pass -Iscc path\to\ISCC.exe" }

Write-Host "== Inno Setup installer"
$iconFile = Join-Path $Root "$Work\rid_desktop\icons\rid-desktop.ico"
Invoke-Checked $Iscc @("/Qp", "/DAppVersion=$Version", "/DSourceDir=$(Resolve-Path $AppDir)",
  "/DOutputDir=$(Resolve-Path $Dist)", "/DSetupIcon=$iconFile", "/DTorchVariant=$Torch", "packaging\installer.iss")
$setup = Get-ChildItem $Dist -Filter "RID-Desktop-$Version-windows-*-setup.exe" | Select-Object -First 1
if ($env:WINDOWS_SIGN_CERT -and $setup) {
  Invoke-Checked $signtool.FullName @("sign", "/f", $env:WINDOWS_SIGN_CERT, "/p", $env:WINDOWS_SIGN_PASSWORD,
    "/fd", "sha256", "/tr", "http://timestamp.digicert.com", "/td", "sha256", $setup.FullName)
}
Write-Host "installer: $($setup.FullName) ($([math]::Round($setup.Length / 1MB)) MB)"
