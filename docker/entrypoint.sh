#!/usr/bin/env bash
# First start: create the trust domain in $CERTSEAL_HOME; every start: serve it.
set -euo pipefail
if [ ! -f "$CERTSEAL_HOME/certseal.toml" ]; then
    certseal init --home "$CERTSEAL_HOME" --region "${CERTSEAL_REGION:?}" \
        --region-name "${CERTSEAL_REGION_NAME:?}" --base-url "${CERTSEAL_BASE_URL:?}" --json
fi
exec certseal serve --home "$CERTSEAL_HOME" --host 0.0.0.0 --port 8000 --workers "${CERTSEAL_WORKERS:-1}"
