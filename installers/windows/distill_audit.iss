; Inno Setup 6 script: Windows installer of Distill Audit (per-user, no administrator
; rights needed; an administrator may choose "install for all users" in the first page).
;
; Build on Windows (see installers/windows/README.md):
;   .venv\Scripts\pyinstaller --noconfirm installers\distill_audit.spec
;   $v = .venv\Scripts\python -c "import core; print(core.__version__)"
;   & "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" /DAppVersion=$v installers\windows\distill_audit.iss
; Output: dist\distill-audit-<version>-windows-x64-setup.exe
;
; Installs the PyInstaller one-folder bundle (dist\distill-audit), a Start-menu entry,
; optionally a desktop icon, the .dacase file type (double-click opens the case file in
; the app) and an uninstaller. Case files, logs and settings live in the user's
; %LOCALAPPDATA%\DistillAudit and are never removed by the uninstaller: they are evidence.

; The version is written once, in pyproject.toml; the build passes it in (README).
#ifndef AppVersion
  #error Pass the version from pyproject.toml: ISCC /DAppVersion=<version> distill_audit.iss
#endif
#define AppName "Distill Audit"
#define AppExe "distill-audit-gui.exe"
#define ProgId "DistillAudit.CaseFile"
#define Bundle "..\..\dist\distill-audit"

[Setup]
; A fixed AppId keeps upgrades in place; never change it between releases.
AppId={{6B1F3C52-7D0E-4E8A-9C1B-5A2D44415544}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Distill Audit
VersionInfoVersion={#AppVersion}
; Per-user by default: {autopf} is %LOCALAPPDATA%\Programs without administrator rights,
; Program Files when an administrator installs for all users.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\{#AppName}
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesAssociations=yes
SetupIconFile=..\icons\distill-audit.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
OutputDir=..\..\dist
OutputBaseFilename=distill-audit-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the whole program folder, so no file of an older version lingers.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "..\icons\distill-audit-case.ico"; DestDir: "{app}"; Flags: ignoreversion

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; HKA is HKCU for a per-user install and HKLM for an all-users one.
; The extension and its MIME type, pointing at our ProgID.
Root: HKA; Subkey: "Software\Classes\.dacase"; ValueType: string; ValueName: ""; ValueData: "{#ProgId}"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.dacase"; ValueType: string; ValueName: "Content Type"; ValueData: "application/x-distill-audit-case"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.dacase\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
; The ProgID: name, icon and the open command (double-click passes the path as %1,
; which app/main.py takes as its positional CASE_FILE argument).
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueName: ""; ValueData: "Distill Audit case file"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\distill-audit-case.ico"
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
; "Open with" lists the app for case files.
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "{#AppName}"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".dacase"; ValueData: ""

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
