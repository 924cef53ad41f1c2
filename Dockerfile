# certseal on Debian 12 with SoftHSM2 as its embedded HSM.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      softhsm2 opensc openssl poppler-utils zbar-tools fonts-arphic-uming libzbar0 \
      libnss3-tools ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
RUN python -m venv /app/.venv && /app/.venv/bin/pip install --no-cache-dir -e .
ENV PATH=/app/.venv/bin:$PATH CERTSEAL_HOME=/data
VOLUME /data
EXPOSE 8000
COPY docker/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/bin/bash", "/entrypoint.sh"]
