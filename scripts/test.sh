#!/usr/bin/env bash
# The README's test command: sets up .venv if needed, then lint, type check and the whole test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -k pricing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

echo "== ruff" >&2
.venv/bin/ruff check .
echo "== mypy --strict strategies" >&2
.venv/bin/mypy --strict strategies
echo "== pytest" >&2
set +e
.venv/bin/python -m pytest -n "${ALVH_TEST_WORKERS:-2}" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "alvh: pytest collected no tests - that is a failure, not a pass" >&2
    exit 1
fi
exit "$status"
