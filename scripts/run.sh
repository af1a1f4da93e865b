#!/usr/bin/env bash
# The README's main command: sets up .venv if needed, then runs the bot unattended against the embedded paper
# gateway (`alvh run --sim`): an IB-like paper account holding two SPX iron condors, a market with a
# volatility spike a week in, and an accelerated clock, so the hedge's first weeks pass in a few minutes.
#
# From a second terminal:  .venv/bin/alvh status --state-dir state/sim   (also rebalance, halt, resume, audit)
# Defaults can be changed: ALVH_SPEED=300 (clock speed), ALVH_SCENARIO=spike|default|empty; arguments are
# passed on to `alvh run` (e.g. --for 30d to stop after thirty simulated days).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/alvh run --sim --config config/paper.toml --state-dir "${ALVH_STATE_DIR:-state/sim}" \
    --speed "${ALVH_SPEED:-300}" --scenario "${ALVH_SCENARIO:-spike}" "$@"
