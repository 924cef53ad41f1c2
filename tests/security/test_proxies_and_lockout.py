"""Proxy headers and the failed-authentication limit through the real server on loopback:
X-Forwarded-For is believed only from CERTSEAL_TRUSTED_PROXIES (empty by default), and
sixty wrong keys from an address, whatever it claims to be, never lock out a caller
presenting the right key."""

from __future__ import annotations

import domain_kit
import httpx
import pytest

from api.app import create_app
from api.ratelimit import Rate, RateLimits
from certseal.settings import SettingsError, load_settings

BUDGET = Rate(per_second=0.05, burst=5)  # five failures, then one every 20 s


def _served(trust_domain, **changes):
    settings = trust_domain.domain.settings.model_copy(update=changes)
    app = create_app(settings, domain=trust_domain.domain,
                     rate_limits=RateLimits(verify=None, ocsp=None, auth_failures=BUDGET))
    return domain_kit.serving(trust_domain, app=app, port=domain_kit.free_port())


def _keys(client: httpx.Client, token: str, forwarded_for: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    return client.get("/v1/departments/me/api-keys", headers=headers).status_code


def test_sixty_wrong_keys_with_a_spoofed_address_lock_nobody_out(trust_domain):
    right, wrong = trust_domain.api_key, trust_domain.api_key[:-4] + "AAAA"
    with _served(trust_domain) as url, httpx.Client(base_url=url, timeout=10) as client:
        answers = [_keys(client, wrong, "10.9.9.9") for _ in range(60)]
        assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
        # The header was not believed: the limit fell on the peer (127.0.0.1), so a
        # claimed other address changes nothing for a wrong key ...
        assert _keys(client, wrong, "10.9.9.8") == 429
        # ... and the right key is served from the same address, claimed or not.
        assert _keys(client, right, "10.9.9.9") == 200
        assert _keys(client, right) == 200
        limited = client.get("/v1/departments/me/api-keys", headers={
            "Authorization": f"Bearer {wrong}", "Accept-Language": "zh-Hans"})
    assert limited.json()["code"] == "too_many_authentication_failures"
    assert "秒后重试" in limited.json()["detail"]
    assert 1 <= int(limited.headers["retry-after"]) <= 6 / BUDGET.per_second  # debt: a burst


def test_a_trusted_proxys_forwarded_address_is_the_client(trust_domain):
    right, wrong = trust_domain.api_key, trust_domain.api_key[:-4] + "AAAA"
    with _served(trust_domain, trusted_proxies="127.0.0.1, ::1") as url, \
            httpx.Client(base_url=url, timeout=10) as client:
        answers = [_keys(client, wrong, "198.51.100.7, 10.9.9.9") for _ in range(8)]
        assert answers == [401] * 5 + [429] * 3
        # Another client behind the same proxy has a budget of its own ...
        assert _keys(client, wrong, "10.9.9.8") == 401
        # ... and the one that guessed is still served with the right key.
        assert _keys(client, right, "10.9.9.9") == 200


@pytest.mark.parametrize("value", ["*", "proxy.example", "10.0.0.1/8", "10.0.0.0/33"])
def test_trusted_proxies_must_be_addresses_or_networks(trust_domain, value):
    with pytest.raises(SettingsError, match="trusted proxy"):
        load_settings(trust_domain.home, trusted_proxies=value,
                      **domain_kit.TEST_PIN_ENV)
