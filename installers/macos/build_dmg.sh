#!/bin/sh
# Build "Distill Audit.app" and its disk image on a Mac (not buildable on Linux).
#
#   sh installers/macos/build_dmg.sh
#   -> dist/distill-audit-<version>-macos-<arch>.dmg  (arch: arm64 or x86_64, the build Mac's)
#
# Needs: macOS 12+, Xcode command-line tools (hdiutil, codesign), the project venv with
# the installer extra (make setup; .venv/bin/pip install -c constraints.txt -e '.[installer]')
# and a built demo world in resources/demo. Optional environment:
#   CODESIGN_IDENTITY  "Developer ID Application: ..." to sign (hardened runtime)
#   NOTARY_PROFILE     a notarytool keychain profile, to notarise and staple the dmg
# Unsigned builds run after right-click > Open (Gatekeeper asks once).
set -eu

cd "$(dirname "$0")/../.."
PY=.venv/bin/python
VERSION=$($PY -c 'import core; print(core.__version__)')
ARCH=$(uname -m)
APP="dist/macos/Distill Audit.app"
DMG="dist/distill-audit-$VERSION-macos-$ARCH.dmg"
STAGE=build/macos/dmg
ENTITLEMENTS=installers/macos/entitlements.plist

$PY -m PyInstaller --noconfirm --distpath dist/macos --workpath build/macos/work \
    installers/distill_audit.spec

# The bundle must carry the case-file type and its icon (see the spec's BUNDLE).
/usr/libexec/PlistBuddy -c 'Print :UTExportedTypeDeclarations:0:UTTypeIdentifier' \
    "$APP/Contents/Info.plist"
test -f "$APP/Contents/Resources/distill-audit-case.icns"

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    # Sign inside-out: every library and the two executables, then the bundle.
    find "$APP/Contents" -type f \( -name '*.dylib' -o -name '*.so' \) -exec \
        codesign --force --timestamp --options runtime --sign "$CODESIGN_IDENTITY" {} +
    codesign --force --timestamp --options runtime --sign "$CODESIGN_IDENTITY" \
        --entitlements "$ENTITLEMENTS" \
        "$APP/Contents/MacOS/distill-audit" "$APP/Contents/MacOS/distill-audit-gui"
    codesign --force --timestamp --options runtime --sign "$CODESIGN_IDENTITY" \
        --entitlements "$ENTITLEMENTS" "$APP"
    codesign --verify --deep --strict "$APP"
fi

# The dmg: the app and a link to /Applications, to drag it onto.
rm -rf "$STAGE"
mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
rm -f "$DMG"
hdiutil create -volname "Distill Audit $VERSION" -srcfolder "$STAGE" -fs HFS+ \
    -format UDZO -imagekey zlib-level=9 -ov "$DMG"

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$CODESIGN_IDENTITY" "$DMG"
fi
if [ -n "${NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$DMG" --keychain-profile "$NOTARY_PROFILE" --wait
    xcrun stapler staple "$DMG"
fi

# Quick check of the built app, offscreen: open an empty case file and quit.
CHECK_HOME=$(mktemp -d)
HOME="$CHECK_HOME" QT_QPA_PLATFORM=offscreen \
    "$APP/Contents/MacOS/distill-audit-gui" --self-test "$CHECK_HOME/check.dacase"
rm -rf "$CHECK_HOME"
echo "Wrote $DMG"
