"""The one settings object: built once at the edge (CLI, app factory) and passed in.

Sources, highest first: explicit arguments, environment (``CERTSEAL_*``, plus the
conventional ``DATABASE_URL``), the home's ``certseal.toml``, then defaults. PINs that
are not in the environment come from the home's 0600 PIN file written by ``init``.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ca.policies import EXAMPLE_POLICY_ARC, checked_arc

CONFIG_FILE = "certseal.toml"
PIN_FILE = "hsm-pins.json"
DEFAULT_SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


class SettingsError(Exception):
    """The configuration cannot be used as given."""


def default_softhsm_module() -> Path:
    for candidate in DEFAULT_SOFTHSM_MODULES:
        if Path(candidate).exists():
            return Path(candidate)
    return Path(DEFAULT_SOFTHSM_MODULES[0])


class VerifierSettings(BaseSettings):
    """What verification alone reads: ``certseal verify`` may run without a home."""

    model_config = SettingsConfigDict(env_prefix="CERTSEAL_", extra="ignore")

    # The guarded speed-ups of pyHanko's and asn1crypto's readers (verify/accel), installed
    # in processes that only verify; off (CERTSEAL_VERIFY_ACCELERATOR=off): as shipped.
    verify_accelerator: bool = True


class Settings(VerifierSettings):
    model_config = SettingsConfigDict(env_prefix="CERTSEAL_", extra="ignore")

    home: Path
    environment: Literal["development", "production"] = "development"
    region_code: str | None = None
    region_name: str | None = None
    base_url: str = "http://127.0.0.1:8000"

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("CERTSEAL_DATABASE_URL", "DATABASE_URL",
                                                    "database_url")
    )

    hsm_module: Path = Field(default_factory=default_softhsm_module)
    hsm_token_label: str = "certseal"  # noqa: S105 - a label, not a secret
    hsm_pin: SecretStr | None = None
    hsm_so_pin: SecretStr | None = None
    # SoftHSM2 reads its token directory from this file; None for a real HSM.
    softhsm_conf: Path | None = None

    # The operator's registered OID arc: the e-seal certificate policy is <arc>.1, the
    # time-stamp policy <arc>.2 (ca/policies.py). The default is the RFC 5612
    # documentation arc, refused in production.
    policy_arc: str = EXAMPLE_POLICY_ARC

    # PAdES level of issued licences: B-LTA (the default: a later revision with OCSP
    # answers given after the signature time-stamp and a document time-stamp), or B-LT
    # (one signed revision, its validation data gathered before signing).
    pades_level: Literal["B-LT", "B-LTA"] = "B-LTA"

    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks: str | None = None
    # The citizen page signs in as this public client (PKCE, no secret); when unset it is
    # oidc_audience, since an ID token's audience is the client it was issued to.
    oidc_client_id: str | None = None
    # Tokens living longer than this (exp - iat) are refused, and clocks may differ by
    # at most oidc_clock_skew seconds (bounded: a larger skew is a broken clock).
    oidc_max_token_lifetime: int = Field(default=4 * 3600, gt=0, le=7 * 24 * 3600)
    oidc_clock_skew: int = Field(default=30, ge=0, le=300)

    # Abuse at the edge (api/serving.py, api/ratelimit.py). Reverse proxies whose
    # X-Forwarded-For and -Proto are believed: addresses or networks, comma-separated;
    # empty (the default) believes nobody, and the peer's address is the client's.
    trusted_proxies: str = ""
    # A request's headers must arrive within client_header_timeout seconds; its body
    # within client_body_timeout seconds plus one second per client_body_min_rate bytes.
    client_header_timeout: float = Field(default=10.0, gt=0, le=300)
    client_body_timeout: float = Field(default=10.0, gt=0, le=300)
    client_body_min_rate: int = Field(default=500, gt=0)

    # PDF and image verification: a pool of worker processes per server process
    # (certseal/verification_pool.py). Its memory is bounded by workers x memory_mb.
    verify_workers: int = Field(default=2, ge=1, le=64)
    verify_queue: int = Field(default=8, ge=0, le=1000)  # may wait for a worker
    verify_queue_seconds: float = Field(default=5.0, gt=0, le=300)
    verify_budget_seconds: float = Field(default=20.0, gt=0, le=600)
    verify_worker_memory_mb: int = Field(default=448, ge=256, le=1 << 20)
    verify_worker_max_tasks: int = Field(default=500, ge=0)  # 0: never replaced

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        home = _home_from(init_settings, env_settings)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if home is not None and (home / CONFIG_FILE).is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, home / CONFIG_FILE))
        return tuple(sources)

    @field_validator("region_code")
    @classmethod
    def _region_code_shape(cls, value: str | None) -> str | None:
        if value is not None and not (len(value) == 6 and value.isdigit()):
            raise ValueError("region code must be a 6-digit administrative division code")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        import ipaddress

        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            try:
                ipaddress.ip_network(item)
            except ValueError:
                raise ValueError(f"trusted proxy {item!r} is not an IP address or network "
                                 "(a name or '*' would believe anyone)") from None
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @field_validator("policy_arc")
    @classmethod
    def _policy_arc_shape(cls, value: str) -> str:
        return checked_arc(value)

    @field_validator("base_url")
    @classmethod
    def _base_url_shape(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base URL must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production":
            if self.database_url is None or self.database_url.startswith("sqlite"):
                raise ValueError("production needs DATABASE_URL pointing at PostgreSQL")
            if not self.base_url.startswith("https://"):
                raise ValueError("production needs an https:// base URL")
            if self.policy_arc == EXAMPLE_POLICY_ARC:
                raise ValueError("production needs the operator's own policy arc "
                                 "(CERTSEAL_POLICY_ARC), not the documentation example "
                                 f"{EXAMPLE_POLICY_ARC}")
        return self

    # Derived paths of a home -------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.home / CONFIG_FILE

    @property
    def pin_file(self) -> Path:
        return self.home / PIN_FILE

    @property
    def token_dir(self) -> Path:
        return self.home / "tokens"

    @property
    def published_dir(self) -> Path:
        return self.home / "published"

    @property
    def softhsm_conf_path(self) -> Path | None:
        if self.softhsm_conf is not None:
            return self.softhsm_conf
        if "softhsm" in self.hsm_module.name:
            return self.home / "softhsm2.conf"
        return None

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'certseal.db'}"

    def user_pin(self) -> str:
        if self.hsm_pin is not None:
            return self.hsm_pin.get_secret_value()
        return self._pins_from_file()["user_pin"]

    def so_pin(self) -> str:
        if self.hsm_so_pin is not None:
            return self.hsm_so_pin.get_secret_value()
        return self._pins_from_file()["so_pin"]

    def _pins_from_file(self) -> dict[str, str]:
        try:
            return json.loads(self.pin_file.read_text())
        except FileNotFoundError:
            raise SettingsError(
                f"no HSM PIN: set CERTSEAL_HSM_PIN or run 'certseal init' in {self.home}"
            ) from None

    def save_config(self, values: dict[str, Any]) -> None:
        """Write the home's config file (plain values only; never PINs)."""
        lines = []
        for key, value in values.items():
            if value is None:
                continue
            lines.append(f"{key} = {json.dumps(str(value), ensure_ascii=False)}")
        self.config_file.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _home_from(*sources: PydanticBaseSettingsSource) -> Path | None:
    for source in sources:
        try:
            values = source()
        except Exception:  # noqa: S112 - a broken source is reported by pydantic later
            continue
        if values.get("home"):
            return Path(values["home"])
    return None


def ensure_pins(settings: Settings) -> tuple[str, str]:
    """PINs for a new token: from the environment, else generated into a 0600 file."""
    user = settings.hsm_pin.get_secret_value() if settings.hsm_pin else None
    so = settings.hsm_so_pin.get_secret_value() if settings.hsm_so_pin else None
    if user is None or so is None:
        user = user or secrets.token_urlsafe(18)
        so = so or secrets.token_urlsafe(18)
        fd = os.open(settings.pin_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w") as fh:
            json.dump({"user_pin": user, "so_pin": so}, fh)
    return user, so


def load_settings(home: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings for a home (``--home`` beats ``CERTSEAL_HOME``)."""
    kwargs = {k: v for k, v in overrides.items() if v is not None}
    if home is not None:
        kwargs["home"] = Path(home).expanduser().resolve()
    elif os.environ.get("CERTSEAL_HOME"):
        kwargs["home"] = Path(os.environ["CERTSEAL_HOME"]).expanduser().resolve()
    else:
        raise SettingsError("no home: pass --home DIR or set CERTSEAL_HOME")
    try:
        return Settings(**kwargs)
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
