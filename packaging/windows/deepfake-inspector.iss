; Inno Setup script for Deepfake Inspector on Windows. UNTESTED here (no Windows build machine).
;
; 1. On Windows (x64, Python 3.11): python -m venv .venv && .venv\Scripts\pip install -e ".[package]"
;    (PyPI's Windows torch is CPU-only and matches PyPI's torchvision: the spec's flavour is
;    "native", nothing is trimmed and no nms hook is added.)
; 2. .venv\Scripts\pyinstaller --noconfirm packaging\deepfake-inspector.spec
;    then smoke-test:  dist\deepfake-inspector\deepfake-inspector.exe --self-test --out st.json
;    (the windowed .exe has no console: read st.json; the exit code is in %ERRORLEVEL% when run
;    with `start /wait`).
; 3. "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" /DAppVersion=0.1.0 packaging\windows\deepfake-inspector.iss
;    -> dist\DeepfakeInspector-0.1.0-setup.exe

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Deepfake Inspector"
#define AppExe "deepfake-inspector.exe"

[Setup]
AppId={{6B0E8E0B-6C52-4F5B-9C4B-7D7C2B5F3A11}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=Deepfake Inspector developers
DefaultDirName={autopf}\Deepfake Inspector
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
OutputDir=..\..\dist
OutputBaseFilename=DeepfakeInspector-{#AppVersion}-setup
SetupIconFile=..\icons\deepfake-inspector.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
WizardStyle=modern

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"

[Files]
Source: "..\..\dist\deepfake-inspector\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
; Installation check: the self-test must pass before the app is offered to the user.
Filename: "{app}\{#AppExe}"; Parameters: "--self-test --out ""{tmp}\selftest.json"""; Flags: waituntilterminated runhidden; StatusMsg: "Checking the installation..."
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
