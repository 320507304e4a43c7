#!/bin/sh
# Install (or remove) Distill Audit from this unpacked folder.
#
#   ./install.sh               for you: ~/.local/opt/distill-audit, menu entry, .dacase files
#   sudo ./install.sh --system for everyone: /opt/distill-audit, /usr/local/{bin,share}
#   ./install.sh --uninstall   (with --system too, if installed that way); a copy of this
#                              script is kept in the program folder for that
#   ./install.sh --prefix DIR  install the program into DIR instead
#
# Needs nothing from the network and no root for the per-user install. Registers the
# desktop entry, the icons and the case-file type (application/x-distill-audit-case,
# *.dacase) so that double-clicking a case file opens it in Distill Audit. Case files,
# logs and settings live in your own data folders, never in the program folder.
set -eu

NAME=distill-audit
HERE=$(cd "$(dirname "$0")" && pwd)
MODE=user
ACTION=install
PREFIX=

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --system) MODE=system ;;
        --uninstall) ACTION=uninstall ;;
        --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a folder" >&2; exit 2; }
                  PREFIX=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$MODE" = system ]; then
    APPDIR=${PREFIX:-/opt/$NAME}
    BINDIR=/usr/local/bin
    DATADIR=/usr/local/share
else
    : "${HOME:?install.sh: HOME is not set}"
    APPDIR=${PREFIX:-$HOME/.local/opt/$NAME}
    BINDIR=$HOME/.local/bin
    DATADIR=${XDG_DATA_HOME:-$HOME/.local/share}
fi
case "$APPDIR" in /*) ;; *) APPDIR=$(pwd)/$APPDIR ;; esac

ICON_SIZES="16 24 32 48 64 128 256 512"

have() { command -v "$1" >/dev/null 2>&1; }

refresh_desktop() {
    # Each tool is optional: a minimal system without them still runs the app; the
    # desktop picks the entries up at the next log-in.
    if have update-mime-database; then update-mime-database "$DATADIR/mime" >/dev/null 2>&1 || true; fi
    if have update-desktop-database; then update-desktop-database -q "$DATADIR/applications" 2>/dev/null || true; fi
    if have gtk-update-icon-cache && [ -f "$DATADIR/icons/hicolor/index.theme" ]; then
        gtk-update-icon-cache -q -t -f "$DATADIR/icons/hicolor" 2>/dev/null || true
    fi
}

remove_files() {
    rm -f "$BINDIR/$NAME" "$BINDIR/$NAME-gui"
    rm -f "$DATADIR/applications/$NAME.desktop" "$DATADIR/mime/packages/$NAME-case.xml"
    rm -f "$DATADIR/icons/hicolor/scalable/apps/$NAME.svg"
    for s in $ICON_SIZES; do
        rm -f "$DATADIR/icons/hicolor/${s}x${s}/apps/$NAME.png" \
              "$DATADIR/icons/hicolor/${s}x${s}/mimetypes/application-x-$NAME-case.png"
    done
}

if [ "$ACTION" = uninstall ]; then
    if [ -x "$APPDIR/$NAME-gui" ] && [ -d "$APPDIR/_internal" ]; then
        rm -rf "$APPDIR"
    elif [ -e "$APPDIR" ]; then
        echo "install.sh: $APPDIR does not look like a Distill Audit folder; left in place" >&2
    fi
    remove_files
    refresh_desktop
    echo "Distill Audit removed from $APPDIR (your case files and settings are kept)."
    exit 0
fi

if [ ! -x "$HERE/$NAME-gui" ] || [ ! -d "$HERE/_internal" ]; then
    echo "install.sh: run me from the unpacked distill-audit folder" >&2
    exit 2
fi

# The program: copy beside the old one, then swap, so a failed copy leaves it working.
mkdir -p "$(dirname "$APPDIR")"
rm -rf "$APPDIR.new"
mkdir "$APPDIR.new"
cp -a "$HERE/$NAME" "$HERE/$NAME-gui" "$HERE/_internal" "$HERE/install.sh" "$APPDIR.new/"
rm -rf "$APPDIR.old"
if [ -e "$APPDIR" ]; then mv "$APPDIR" "$APPDIR.old"; fi
mv "$APPDIR.new" "$APPDIR"
rm -rf "$APPDIR.old"

# Commands on the PATH.
mkdir -p "$BINDIR"
ln -sf "$APPDIR/$NAME" "$BINDIR/$NAME"
ln -sf "$APPDIR/$NAME-gui" "$BINDIR/$NAME-gui"

# Menu entry, case-file type, icons.
mkdir -p "$DATADIR/applications" "$DATADIR/mime/packages" "$DATADIR/icons/hicolor/scalable/apps"
sed "s|@APPDIR@|$APPDIR|g" "$HERE/share/applications/$NAME.desktop" \
    > "$DATADIR/applications/$NAME.desktop"
chmod 644 "$DATADIR/applications/$NAME.desktop"
cp "$HERE/share/mime/packages/$NAME-case.xml" "$DATADIR/mime/packages/"
cp "$HERE/share/icons/hicolor/scalable/apps/$NAME.svg" "$DATADIR/icons/hicolor/scalable/apps/"
for s in $ICON_SIZES; do
    for kind in apps mimetypes; do
        src="$HERE/share/icons/hicolor/${s}x${s}/$kind"
        [ -d "$src" ] || continue
        mkdir -p "$DATADIR/icons/hicolor/${s}x${s}/$kind"
        cp "$src"/*.png "$DATADIR/icons/hicolor/${s}x${s}/$kind/"
    done
done
refresh_desktop

# Make Distill Audit the default program for case files (per user; a system install
# leaves each user's choice alone, the .desktop entry already offers it).
if [ "$MODE" = user ] && have xdg-mime; then
    xdg-mime default "$NAME.desktop" "application/x-$NAME-case" 2>/dev/null || true
fi

echo "Distill Audit installed in $APPDIR"
echo "  commands:   $BINDIR/$NAME (CLI), $BINDIR/$NAME-gui (desktop app)"
echo "  menu entry: $DATADIR/applications/$NAME.desktop; .dacase files open with it"
case ":${PATH:-}:" in *":$BINDIR:"*) ;; *) echo "  note: $BINDIR is not on your PATH" ;; esac
