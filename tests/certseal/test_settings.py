"""The one settings object: environment over the home's certseal.toml over defaults."""

from __future__ import annotations

import json

import pytest

from certseal.settings import SettingsError, ensure_pins, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("CERTSEAL_") or key == "DATABASE_URL":
            monkeypatch.delenv(key)


def test_home_config_file_is_read_and_environment_wins(tmp_path, monkeypatch):
    (tmp_path / "certseal.toml").write_text(
        'region_code = "440000"\nregion_name = "广东省"\nbase_url = "https://a.example"\n',
        encoding="utf-8")
    settings = load_settings(tmp_path)
    assert settings.region_code == "440000" and settings.region_name == "广东省"
    assert settings.base_url == "https://a.example"
    monkeypatch.setenv("CERTSEAL_BASE_URL", "https://b.example/")
    assert load_settings(tmp_path).base_url == "https://b.example"


def test_home_from_environment_and_missing_home(tmp_path, monkeypatch):
    with pytest.raises(SettingsError, match="--home"):
        load_settings(None)
    monkeypatch.setenv("CERTSEAL_HOME", str(tmp_path))
    assert load_settings(None).home == tmp_path.resolve()


def test_database_url_defaults_to_sqlite_in_home_and_accepts_database_url(tmp_path,
                                                                          monkeypatch):
    assert load_settings(tmp_path).effective_database_url == \
        f"sqlite:///{tmp_path.resolve() / 'certseal.db'}"
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@localhost/certseal")
    assert load_settings(tmp_path).effective_database_url == \
        "postgresql://u:p@localhost/certseal"


def test_bad_values_are_refused(tmp_path):
    with pytest.raises(SettingsError, match="6-digit"):
        load_settings(tmp_path, region_code="4400")
    with pytest.raises(SettingsError, match="http"):
        load_settings(tmp_path, base_url="ftp://x")


def test_production_refuses_unsafe_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("CERTSEAL_ENVIRONMENT", "production")
    with pytest.raises(SettingsError, match="PostgreSQL"):
        load_settings(tmp_path, base_url="https://pki.example")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/certseal")
    with pytest.raises(SettingsError, match="https"):
        load_settings(tmp_path, base_url="http://pki.example")
    with pytest.raises(SettingsError, match="policy arc"):
        load_settings(tmp_path, base_url="https://pki.example")
    monkeypatch.setenv("CERTSEAL_POLICY_ARC", "1.3.6.1.4.1.99999.7")
    settings = load_settings(tmp_path, base_url="https://pki.example")
    assert settings.environment == "production" and settings.policy_arc == "1.3.6.1.4.1.99999.7"


@pytest.mark.parametrize("arc", ["2.25.76975813561500034901715594575622416775", "1.3.06.1",
                                 "1", "3.1.2", "1.40.2", "1.3.6.1.4.1.4294967296", "a.b"])
def test_a_policy_arc_must_fit_32_bits_and_be_an_oid(tmp_path, arc):
    with pytest.raises(SettingsError, match="policy arc"):
        load_settings(tmp_path, policy_arc=arc)


def test_generated_pins_go_to_a_private_file_and_are_never_in_repr(tmp_path):
    settings = load_settings(tmp_path)
    user, so = ensure_pins(settings)
    assert settings.pin_file.stat().st_mode & 0o777 == 0o600
    assert json.loads(settings.pin_file.read_text()) == {"user_pin": user, "so_pin": so}
    assert settings.user_pin() == user and settings.so_pin() == so
    with pytest.raises(FileExistsError):  # never overwritten
        ensure_pins(settings)


def test_pins_from_environment_are_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("CERTSEAL_HSM_PIN", "env-pin-1234")
    settings = load_settings(tmp_path)
    assert settings.user_pin() == "env-pin-1234"
    assert "env-pin-1234" not in repr(settings) and "env-pin-1234" not in str(settings)


def test_abuse_bounds_have_safe_defaults_and_refuse_unsafe_values(tmp_path, monkeypatch):
    settings = load_settings(tmp_path)
    assert settings.trusted_proxy_list == []  # nobody's X-Forwarded-For is believed
    assert settings.client_header_timeout == 10.0 and settings.client_body_min_rate > 0
    assert 0 < settings.oidc_max_token_lifetime <= 24 * 3600
    assert settings.oidc_clock_skew <= 300
    monkeypatch.setenv("CERTSEAL_TRUSTED_PROXIES", "10.0.0.0/8,::1")
    assert load_settings(tmp_path).trusted_proxy_list == ["10.0.0.0/8", "::1"]
    for name, value in (("CERTSEAL_OIDC_CLOCK_SKEW", "3600"),
                        ("CERTSEAL_OIDC_MAX_TOKEN_LIFETIME", "0"),
                        ("CERTSEAL_CLIENT_HEADER_TIMEOUT", "0"),
                        ("CERTSEAL_TRUSTED_PROXIES", "*")):
        monkeypatch.setenv(name, value)
        with pytest.raises(SettingsError):
            load_settings(tmp_path)
        monkeypatch.delenv(name)
