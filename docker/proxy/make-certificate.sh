#!/usr/bin/env bash
# The proxy's TLS certificate on first start: self-signed for localhost, so the compose
# file runs as it is. A real deployment puts its own proxy.crt and proxy.key in the
# volume instead (this leaves existing files alone).
set -euo pipefail
cd /tls
if [ ! -f proxy.crt ] || [ ! -f proxy.key ]; then
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout proxy.key -out proxy.crt
    chmod 0644 proxy.crt
    chmod 0640 proxy.key
fi
