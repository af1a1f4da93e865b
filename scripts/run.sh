#!/usr/bin/env bash
# The README's main command: sets up .venv if needed, then runs the bot's main job.
# Until the bot runtime lands this runs the planner on the example snapshot; arguments are passed on.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/alvh plan --snapshot tests/fixtures/snapshot_example.json \
    --book tests/fixtures/book_example.json --config config/paper.toml "$@"
