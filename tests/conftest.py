"""Fixtures shared by every room's tests.

`softhsm_token` gives each test a fresh SoftHSM2 token with its own configuration file in
`tmp_path` (nothing global is touched); `softhsm_token_shared` is one token for the whole
run, for tests that only read or add uniquely-labelled keys and want speed;
`softhsm_token_factory` makes more tokens (each in its own home) within one test.
The user PIN is the config's `user_pin`; the SO PIN is the `softhsm_so_pin` fixture.
(Use fixtures, not `from conftest import ...`: several rooms have a conftest.py.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hsm.softhsm import SOFTHSM_MODULE, init_softhsm_token, write_softhsm_conf
from hsm.token import HsmConfig, Token

TEST_TOKEN_LABEL = "certseal-test"
TEST_SO_PIN = "test-so-pin-8613"
TEST_USER_PIN = "test-user-pin-4427"


def make_softhsm_token(home: Path, label: str = TEST_TOKEN_LABEL) -> HsmConfig:
    """A new token under `home` (conf at home/softhsm2.conf, store in home/tokens)."""
    conf = home / "softhsm2.conf"
    write_softhsm_conf(conf, home / "tokens")
    init_softhsm_token(conf, label, TEST_SO_PIN, TEST_USER_PIN)
    return HsmConfig(module=SOFTHSM_MODULE, token_label=label, user_pin=TEST_USER_PIN,
                     softhsm_conf=conf)


@pytest.fixture
def softhsm_token(tmp_path: Path) -> HsmConfig:
    """A fresh, empty SoftHSM2 token for this test."""
    return make_softhsm_token(tmp_path / "hsm")


@pytest.fixture(scope="session")
def softhsm_token_shared(tmp_path_factory: pytest.TempPathFactory) -> HsmConfig:
    """One SoftHSM2 token for the whole run; give keys labels unique to your test."""
    return make_softhsm_token(tmp_path_factory.mktemp("hsm-shared"))


@pytest.fixture
def softhsm_token_factory(tmp_path: Path) -> Callable[[str], HsmConfig]:
    """make(label) -> a new token labelled `label` in a home of its own under tmp_path."""
    made = 0

    def make(label: str = TEST_TOKEN_LABEL) -> HsmConfig:
        nonlocal made
        made += 1
        return make_softhsm_token(tmp_path / f"hsm-{made}", label)

    return make


@pytest.fixture
def softhsm_so_pin() -> str:
    """The SO PIN of the tokens these fixtures create."""
    return TEST_SO_PIN


@pytest.fixture
def hsm_token(softhsm_token: HsmConfig) -> Iterator[Token]:
    """An open Token on a fresh SoftHSM2 token, closed after the test."""
    token = Token.open(softhsm_token)
    try:
        yield token
    finally:
        token.close()


# -- a whole trust domain (see tests/domain_kit.py) ---------------------------------------
@pytest.fixture(scope="session")
def trust_domain(tmp_path_factory: pytest.TempPathFactory):
    """One initialised domain for the run: region 440000, one department granted every
    shipped type, one licence of each type issued (`.licences[code]`). Tests that change
    state must use identifiers of their own (issue new licences) or `fresh_domain`."""
    import domain_kit

    under_test = domain_kit.make_domain(tmp_path_factory.mktemp("domain") / "gd")
    yield under_test
    under_test.domain.close()


@pytest.fixture(scope="session")
def served_domain(trust_domain):
    """`trust_domain` with the real app serving it at its base URL (AIA/OCSP URLs live)."""
    import domain_kit

    with domain_kit.serving(trust_domain):
        yield trust_domain


@pytest.fixture
def fresh_domain(tmp_path: Path):
    """A new domain for a test that must own all of its state (no sample licences)."""
    import domain_kit

    under_test = domain_kit.make_domain(tmp_path / "home", issue_samples=False)
    yield under_test
    under_test.domain.close()
