"""`certseal trust-list` export/import/show/withdraw/publish on real homes: the pin, the
refusals (wrong signer, expired, own region, same number with other content), the history
kept on disk, and the withdrawal rules of the region's own services."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import domain_kit
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ca.trust_services import StatusChangeRefused
from ca.trustlist import TrustListError, read_trust_list
from certseal.cli import main
from certseal.settings import load_settings
from certseal.trust import accepted_trust_lists, import_trust_list, withdraw_service


@pytest.fixture(scope="module")
def three_homes(tmp_path_factory: pytest.TempPathFactory):
    """Guangdong, Shanghai, and an impostor that also calls itself 440000."""
    base = tmp_path_factory.mktemp("tl-cli")
    gd = domain_kit.make_domain(base / "gd", issue_samples=False)
    sh = domain_kit.make_domain(base / "sh", region="310000", region_name="上海市",
                                department_uscc="11310000MB2C92397Q", issue_samples=False)
    impostor = domain_kit.make_domain(base / "fake", issue_samples=False)
    yield gd, sh, impostor
    for d in (gd, sh, impostor):
        d.domain.close()


@pytest.fixture
def pin_env(monkeypatch):
    monkeypatch.setenv("CERTSEAL_HSM_PIN", domain_kit.TEST_PIN_ENV["hsm_pin"])
    monkeypatch.setenv("CERTSEAL_HSM_SO_PIN", domain_kit.TEST_PIN_ENV["hsm_so_pin"])


def run(capsys, *argv: str) -> tuple[int, dict, str]:
    status = main([*argv, "--json"])
    out, err = capsys.readouterr()
    return status, json.loads(out) if out.strip() else {}, err


def fingerprint_of(pem: Path) -> str:
    return x509.load_pem_x509_certificate(pem.read_bytes()).fingerprint(hashes.SHA256()).hex(":")


def test_export_import_show_and_refusals(three_homes, tmp_path, capsys, pin_env):
    gd, sh, impostor = three_homes
    exported = tmp_path / "gd.jws"
    status, out, _ = run(capsys, "trust-list", "export", "--home", str(gd.home),
                         "--out", str(exported))
    assert status == 0 and out["trust_list"] == str(exported)
    # The exported file is the list as served and verifies against the published signer.
    signer = x509.load_pem_x509_certificate((gd.published / "trust-list-signer.pem").read_bytes())
    assert read_trust_list(exported.read_bytes(), signer).trust_list.region_code == "440000"

    # A wrong expected fingerprint: refused, nothing pinned.
    status, out, err = run(capsys, "trust-list", "import", "--home", str(sh.home),
                           str(exported), "--signer-fingerprint", "00" * 32)
    assert status != 0 and out["error"]["code"] == "trust_list_refused"
    assert "not by the expected signer" in err and len(err.strip().splitlines()) == 1
    assert not (sh.home / "trust-lists" / "440000" / "signer.pem").exists()

    # First import pins and prints the fingerprint for the operator to confirm.
    expected = fingerprint_of(gd.published / "trust-list-signer.pem")
    status, out, err = run(capsys, "trust-list", "import", "--home", str(sh.home),
                           str(exported), "--signer-fingerprint", expected)
    assert status == 0 and out["newly_pinned"] is True
    assert out["signer_fingerprint"].lower() == expected
    assert out["signer_fingerprint"] in err
    held = sh.home / "trust-lists" / "440000"
    assert (held / f"{out['sequence_number']:010d}.jws").read_text().strip() == \
        exported.read_text().strip()
    assert json.loads((held / "source.json").read_text())["url"] == \
        f"{gd.base_url}/pki/trust-list"

    # Importing it again: a no-op.
    status, out, _ = run(capsys, "trust-list", "import", "--home", str(sh.home), str(exported))
    assert status == 0 and out["unchanged"] is True and out["newly_pinned"] is False

    # Another signer claiming region 440000 with a higher sequence: refused by the pin.
    impostor.domain.publish_trust_list()
    status, out, err = run(capsys, "trust-list", "import", "--home", str(sh.home),
                           str(impostor.published / "trust-list.jws"))
    assert status != 0 and "not by the pinned list signer" in err

    # Its own region's list is not imported into a region.
    status, out, err = run(capsys, "trust-list", "import", "--home", str(sh.home),
                           str(sh.published / "trust-list.jws"))
    assert status != 0 and "own region" in err

    # Garbage is a clear error, not a traceback.
    junk = tmp_path / "junk.jws"
    junk.write_bytes(b"\xff\x00 not a list")
    status, out, err = run(capsys, "trust-list", "import", "--home", str(sh.home), str(junk))
    assert status != 0 and err.startswith("certseal: error:")

    status, out, _ = run(capsys, "trust-list", "show", "--home", str(sh.home))
    assert status == 0
    assert [(r["region_code"], r["own"], r["stale"]) for r in out["trust_lists"]] == [
        ("310000", True, False), ("440000", False, False)]


def test_unpinned_import_only_with_trust_on_first_use(three_homes, tmp_path, capsys,
                                                      pin_env):
    """A first import without the exporter's fingerprint is refused, nothing kept; with
    --trust-on-first-use it pins the list's signer and says which one to confirm."""
    gd = three_homes[0]
    counter = tmp_path / "counter"
    exported = gd.published / "trust-list.jws"
    status, out, err = run(capsys, "trust-list", "import", "--home", str(counter), str(exported))
    assert status != 0 and out["error"]["code"] == "trust_list_refused"
    assert "--trust-on-first-use" in err and len(err.strip().splitlines()) == 1
    assert not (counter / "trust-lists" / "440000" / "signer.pem").exists()
    status, out, err = run(capsys, "trust-list", "import", "--home", str(counter),
                           str(exported), "--trust-on-first-use")
    assert status == 0 and out["newly_pinned"] is True
    expected = fingerprint_of(gd.published / "trust-list-signer.pem")
    assert out["signer_fingerprint"].lower() == expected and out["signer_fingerprint"] in err
    assert (counter / "trust-lists" / "440000" / "signer.pem").is_file()
    assert not (counter / "certseal.toml").exists()  # a counter's home: no domain in it


def test_expired_list_refused_and_stale_list_warned(three_homes, tmp_path):
    gd = three_homes[0]
    jws = (gd.published / "trust-list.jws").read_bytes()
    signer = x509.load_pem_x509_certificate((gd.published / "trust-list-signer.pem").read_bytes())
    next_update = read_trust_list(jws, signer).trust_list.next_update
    later = next_update + dt.timedelta(seconds=1)
    # A fresh counter (a copy of Shanghai's settings in another home) sees it expired.
    counter = load_settings(tmp_path / "counter", region_code="310000")
    with pytest.raises(TrustListError, match="expired at"):
        import_trust_list(counter, jws, now=later)
    import_trust_list(counter, jws)
    accepted = accepted_trust_lists(counter, now=later)
    assert [s.trust_list.region_code for s in accepted.lists] == ["440000"]
    assert any("past its next update" in w and "refresh" in w for w in accepted.warnings)


def test_withdraw_publishes_next_sequence_with_history(fresh_domain, capsys, pin_env):
    home = fresh_domain.home
    signer = x509.load_pem_x509_certificate(
        (fresh_domain.published / "trust-list-signer.pem").read_bytes())
    first = read_trust_list((fresh_domain.published / "trust-list.jws").read_bytes(), signer)
    at = first.trust_list.issued_at + dt.timedelta(minutes=5, microseconds=250_000)
    status, out, _ = run(capsys, "trust-list", "withdraw", "--home", str(home),
                         "--service", "tsa", "--at", at.isoformat(), "--reason", "key lost")
    assert status == 0 and out["sequence_number"] == first.trust_list.sequence_number + 1
    second = read_trust_list((fresh_domain.published / "trust-list.jws").read_bytes(), signer)
    tsa = second.trust_list.services_of("tsa")[0]
    assert [(c.status, c.since) for c in tsa.history] == [
        ("granted", first.trust_list.services_of("tsa")[0].history[0].since),
        ("withdrawn", at)]
    assert tsa.status_at(at - dt.timedelta(microseconds=1)) == "granted"
    assert tsa.status_at(at) == "withdrawn"
    assert second.trust_list.services_of("issuing-ca")[0].status_at(at) == "granted"

    # Withdrawing again, or before the last change: refused, no list published.
    for when in (at + dt.timedelta(hours=1), at - dt.timedelta(seconds=1)):
        with pytest.raises(StatusChangeRefused, match=r"already withdrawn|history only grows"):
            withdraw_service(fresh_domain.domain, "tsa", at=when, reason="again")
    status, out, err = run(capsys, "trust-list", "withdraw", "--home", str(home),
                           "--service", "ocsp", "--at", "2030-01-01T00:00:00",
                           "--reason", "x")
    assert status != 0 and "time zone" in err
    assert read_trust_list((fresh_domain.published / "trust-list.jws").read_bytes(),
                           signer).trust_list.sequence_number == 2
