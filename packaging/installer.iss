; Inno Setup 6 script: installs the PyInstaller one-folder build of RID Desktop on Windows.
;
; Compiled by packaging/build_windows.ps1, which passes:
;   /DAppVersion=0.1.0  /DSourceDir=<build\dist\RID Desktop>  /DOutputDir=<build\dist>
;   /DSetupIcon=<build\work\rid_desktop\icons\rid-desktop.ico>  /DTorchVariant=cpu
; Per-user install by default (no admin prompt); "Install for all users" is offered in the dialog.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\build\dist\RID Desktop"
#endif
#ifndef OutputDir
  #define OutputDir "..\build\dist"
#endif
#ifndef TorchVariant
  #define TorchVariant "cpu"
#endif
#define AppName "RID Desktop"
#define AppExe "RID Desktop.exe"
#define CliExe "rid-desktop.exe"

[Setup]
; Never change AppId: Windows uses it to find the existing installation for upgrades/uninstall.
AppId={{6C1F4E0B-7B2A-4D55-9A53-2E3B9C1D7A41}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=RID Desktop contributors
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename=RID-Desktop-{#AppVersion}-windows-x64-{#TorchVariant}-setup
#ifdef SetupIcon
SetupIconFile={#SetupIcon}
#endif
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
Compression=lzma2/max
SolidCompression=yes
LZMANumBlockThreads=4
WizardStyle=modern
; One setup .exe (the CPU build compresses to a few hundred MB; no disk spanning needed).
DiskSpanning=no
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; An upgrade must not leave libraries of the previous version next to the new ones.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{group}\{#AppName} self-test"; Filename: "{cmd}"; Parameters: "/k ""{app}\{#CliExe}"" self-test"; WorkingDir: "{app}"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Downloaded surrogate models and settings live in the user's profile and are kept on purpose.
Type: filesandordirs; Name: "{app}\_internal"
