#!/usr/bin/env bash
# Creates .venv with a Python >= 3.11 and installs the project (editable, with the dev extra).
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
    for candidate in "${ALVH_PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if [ ! -x .venv/bin/python ]; then
    python_bin=$(find_python) || { echo "alvh: Python 3.11 or newer is required (set ALVH_PYTHON)" >&2; exit 1; }
    echo "alvh: creating .venv with $python_bin" >&2
    "$python_bin" -m venv .venv
fi

stamp=.venv/.bootstrap-stamp
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "alvh: installing dependencies into .venv" >&2
    log=.venv/install.log
    if ! { .venv/bin/python -m pip install --upgrade pip &&
           .venv/bin/python -m pip install -e '.[dev]'; } >"$log" 2>&1; then
        grep -v "^WARNING: Location" "$log" | tail -40 >&2
        echo "alvh: installing dependencies failed (full log: $log)" >&2
        exit 1
    fi
    echo "$wanted" > "$stamp"
fi
