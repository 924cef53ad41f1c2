"""docker-compose.yml is valid Compose (schema from the Compose Specification) and runs
two regions with PostgreSQL, persistent homes and health checks."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_file_matches_the_compose_specification():
    schema = json.loads((ROOT / "tests" / "data" / "compose_spec.json").read_text())
    errors = sorted(jsonschema.Draft201909Validator(schema).iter_errors(compose()),
                    key=str)
    assert not errors, "\n".join(e.message for e in errors)


def test_two_regions_with_postgres_volumes_and_health_checks():
    services = compose()["services"]
    assert {"postgres", "guangdong", "shanghai"} <= set(services)
    regions = {name: services[name] for name in ("guangdong", "shanghai")}
    codes = {s["environment"]["CERTSEAL_REGION"] for s in regions.values()}
    assert codes == {"440000", "310000"}
    for name, service in regions.items():
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://"), name
        assert any(v.endswith(":/data") for v in service["volumes"]), name
        assert "healthcheck" in service and "/readyz" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert int(env["CERTSEAL_WORKERS"]) >= 2
    init_sql = (ROOT / "docker" / "postgres-init.sql").read_text()
    assert "CREATE DATABASE guangdong" in init_sql and "CREATE DATABASE shanghai" in init_sql


def test_entrypoint_initialises_once_then_serves():
    entry = (ROOT / "docker" / "entrypoint.sh").read_text()
    assert 'if [ ! -f "$CERTSEAL_HOME/certseal.toml" ]' in entry
    assert "certseal serve" in entry


def test_a_tls_terminating_proxy_is_the_only_way_in():
    services = compose()["services"]
    proxy = services["proxy"]
    address = proxy["networks"]["edge"]["ipv4_address"]
    published = {p.split(":")[-1] for p in proxy["ports"]}
    for name in ("guangdong", "shanghai"):
        region = services[name]
        assert "ports" not in region, name  # reachable only through the proxy
        assert region["environment"]["CERTSEAL_TRUSTED_PROXIES"] == address, name
        base_url = region["environment"]["CERTSEAL_BASE_URL"]
        assert base_url.startswith("https://") and base_url.rsplit(":", 1)[1] in published
        assert proxy["depends_on"][name]["condition"] == "service_healthy"
    assert proxy["depends_on"]["proxy-tls"]["condition"] == "service_completed_successfully"
    conf = (ROOT / "docker" / "proxy" / "nginx.conf").read_text()
    for directive in ("client_header_timeout 10s;", "client_body_timeout 10s;",
                      "proxy_request_buffering on;",
                      "proxy_set_header X-Forwarded-For $remote_addr;",
                      "ssl_protocols TLSv1.2 TLSv1.3;", "client_max_body_size 11m;"):
        assert directive in conf, directive
    for port in published:
        assert f"listen {port} ssl;" in conf, port
    assert "make-certificate.sh" in " ".join(services["proxy-tls"]["entrypoint"])
