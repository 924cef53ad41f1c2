"""The accelerator is installed only on purpose, only over the audited pyHanko and
asn1crypto, can be switched off, and leaves the libraries exactly as shipped when taken out
again; importing or running the verifier changes nothing in them, so sealing never runs
with it."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys

import pytest
from pyhanko.pdf_utils import filters, generic

from verify import accel

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture
def shipped_before():
    """Every target as the library holds it, before the test (and checked after it)."""
    assert accel.installed() is None and accel.shipped()
    held = {t: t.current() for t in accel.TARGETS}
    yield held
    accel.uninstall()
    assert {t: t.current() for t in accel.TARGETS} == held


def test_install_replaces_every_target_and_uninstall_puts_back_the_very_originals(
        shipped_before, caplog):
    caplog.set_level(logging.INFO, "verify.accel")
    assert accel.install() is True
    replaced = [t for t in accel.TARGETS if t.build is not None]
    assert len(replaced) == 6
    for target in replaced:
        assert target.current() is not shipped_before[target], target.name
        assert target.function_of(target.current()).__module__.startswith("verify.accel")
    assert not accel.shipped()
    assert "verification accelerator installed: pyHanko 0.38.0, asn1crypto 1.5.1" in caplog.text
    assert accel.install() is True  # idempotent: nothing wrapped twice
    assert accel.installed().replaced and len(accel.installed().replaced) == 6
    accel.uninstall()
    for target in accel.TARGETS:
        assert target.current() is shipped_before[target], target.name
    assert accel.shipped() and accel.installed() is None
    accel.uninstall()  # idempotent


def test_refused_unless_the_audited_versions(shipped_before, monkeypatch, caplog):
    monkeypatch.setitem(accel.AUDITED_VERSIONS, "pyHanko", "0.37.0")
    assert accel.install() is False
    assert accel.installed() is None and accel.shipped()
    assert "verification accelerator refused: pyHanko is 0.38.0, audited 0.37.0" in caplog.text
    assert "run as shipped" in caplog.text


def test_refused_when_a_target_was_replaced_by_someone_else(shipped_before, monkeypatch,
                                                           caplog):
    def foreign(stream):
        raise AssertionError("never called")

    monkeypatch.setattr(generic, "read_hex_string_from_stream", foreign)
    assert accel.install() is False
    assert "read_hex_string_from_stream was replaced" in caplog.text
    # All or nothing: no other target was touched.
    for target in accel.TARGETS:
        if target.attribute != "read_hex_string_from_stream":
            assert target.current() is shipped_before[target]


def test_refused_when_a_target_s_source_is_not_the_audited_one(shipped_before, monkeypatch,
                                                              caplog):
    # Same module and name as pyHanko's, other source (as after a patched release).
    namespace: dict = {}
    exec(compile("def _decode_name(name_bytes):\n    return name_bytes\n",  # noqa: S102
                 __file__, "exec"), namespace)
    impostor = namespace["_decode_name"]
    impostor.__module__ = "pyhanko.pdf_utils.generic"
    monkeypatch.setattr(generic, "_decode_name", impostor)
    assert accel.install() is False
    assert "_decode_name: source differs from the audited one" in caplog.text


def test_refused_when_a_target_s_audited_digest_differs(shipped_before, monkeypatch, caplog):
    # The same check from the other side: an audit written for other source refuses these.
    monkeypatch.setattr(accel, "TARGETS", tuple(
        dataclasses.replace(t, source_sha256="0" * 64) if t.attribute == "read_object" else t
        for t in accel.TARGETS))
    assert accel.install() is False
    assert "read_object: source differs from the audited one" in caplog.text


def test_switched_off_by_the_setting(shipped_before, monkeypatch, caplog, tmp_path):
    from certseal.settings import Settings, VerifierSettings

    caplog.set_level(logging.INFO, "verify.accel")
    assert VerifierSettings().verify_accelerator is True
    monkeypatch.setenv("CERTSEAL_VERIFY_ACCELERATOR", "off")
    assert VerifierSettings().verify_accelerator is False
    assert Settings(home=tmp_path).verify_accelerator is False
    with accel.accelerated(VerifierSettings().verify_accelerator) as on:
        assert on is False and accel.shipped()
    assert "verification accelerator off" in caplog.text


def test_accelerated_block_takes_it_out_again(shipped_before):
    with accel.accelerated(True) as on:
        assert on is True and not accel.shipped()
    assert accel.shipped() and accel.installed() is None


def test_uninstall_leaves_a_later_replacement_in_place_and_says_so(shipped_before,
                                                                   monkeypatch, caplog):
    assert accel.install()

    def later(stream):
        raise AssertionError("never called")

    generic.read_hex_string_from_stream = later
    try:
        accel.uninstall()
        assert generic.read_hex_string_from_stream is later
        assert "read_hex_string_from_stream was replaced while installed" in caplog.text
        others = [t for t in accel.TARGETS if t.attribute != "read_hex_string_from_stream"]
        assert all(t.current() is shipped_before[t] for t in others)
    finally:
        generic.read_hex_string_from_stream = shipped_before[accel.TARGETS[0]]


def test_the_bomb_check_knows_exactly_the_filters_pyhanko_decodes():
    """A filter pyHanko decodes that the bomb check does not know would be decoded in full
    by pyHanko without a bound; one it knows that pyHanko does not is a stale entry."""
    from verify import pdf

    worst = {filters.FlateDecode: pdf._DEFLATE_MAX_RATIO, filters.ASCII85Decode: 4,
             filters.ASCIIHexDecode: 1}
    assert set(pdf._WORST_RATIO) == set(filters.DECODERS)
    for name, decoder in filters.DECODERS.items():
        assert pdf._WORST_RATIO[name] == worst[decoder], name


def _run(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_importing_the_verifier_and_the_service_changes_no_library_function():
    """In a fresh process: every module of the verifier, the API and the CLI imported, the
    libraries are still as shipped (nothing installs on import)."""
    _run("import pkgutil, importlib, verify, api, certseal, seal\n"
         "for package in (verify, api, certseal, seal):\n"
         "    for info in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
         "        importlib.import_module(info.name)\n"
         "import api.app, certseal.cli\n"
         "from verify import accel\n"
         "assert accel.installed() is None and accel.shipped(), accel.audit()\n")


@pytest.fixture
def never_put_in_place(monkeypatch):
    """Fails the test if anything puts the accelerator in place in this process."""
    calls = []

    def refuse(self):
        calls.append(1)
        raise AssertionError("the accelerator was put in place")

    monkeypatch.setattr(accel.Accelerator, "put_in_place", refuse)
    yield calls
    assert calls == []


def test_sealing_after_verifying_in_the_same_process_runs_the_libraries_as_shipped(
        trust_domain, counter, never_put_in_place):
    """A PDF and its QR verified here (as any library caller does), then a licence sealed:
    nothing put the accelerator in place, and the libraries are as shipped after."""
    from verify.inputs import verify_blocking
    from verify.limits import DEFAULT_LIMITS
    from verify.pdf_qr import qr_texts_of_first_page

    pdf = trust_domain.licences["yyzz"].pdf
    context = counter.context(offline=True)
    assert verify_blocking(pdf, context).kind.value == "pdf"
    (text,) = qr_texts_of_first_page(pdf, DEFAULT_LIMITS)
    assert verify_blocking(text.encode(), context).kind.value == "qr"
    assert accel.shipped()
    issued = trust_domain.issue("yyzz")
    assert issued.pdf.startswith(b"%PDF-") and accel.shipped()


def test_the_service_process_verifies_and_seals_with_the_libraries_as_shipped(
        served_domain, never_put_in_place):
    """The API serving in this process: a verification and an issuance through HTTP, and
    this process never had the accelerator (verification workers are other processes)."""
    import httpx

    from certs.samples import sample_licence_data

    pdf = served_domain.licences["yyzz"].pdf
    answer = httpx.post(served_domain.base_url + "/v1/verify", content=pdf, timeout=60,
                        headers={"Content-Type": "application/pdf"})
    assert answer.status_code == 200, answer.text
    with httpx.Client(base_url=served_domain.base_url, timeout=60,
                      headers={"Authorization": f"Bearer {served_domain.api_key}"}) as client:
        issued = client.post("/v1/licences", json={"type": "yyzz",
                                                   "data": sample_licence_data("yyzz")})
    assert issued.status_code == 201, issued.text
    assert accel.shipped() and accel.installed() is None


def test_a_reader_that_answers_otherwise_is_caught_by_judging_both_ways(
        trust_domain, counter, both_ways, monkeypatch):
    """The forgery suites' fixtures compare the two reports: an accelerator whose names
    came out differently would not pass unnoticed."""
    from verify.accel import pdf_readers

    def wrong_names(original):
        def decode(name_bytes):
            return generic.NameObject("/X" if name_bytes == b"ByteRange" else
                                      original(name_bytes))
        return decode

    pdf = trust_domain.licences["yyzz"].pdf
    context = counter.context(offline=True)
    assert both_ways(pdf, context).verdict.value == "indeterminate"  # unsynced: status unknown
    monkeypatch.setattr(pdf_readers, "name_decoder", wrong_names)
    with pytest.raises(AssertionError):
        both_ways(pdf, context)


def test_refused_when_pyhanko_s_delimiters_are_not_the_audited_ones(shipped_before,
                                                                    monkeypatch, caplog):
    from pyhanko.pdf_utils import misc

    monkeypatch.setattr(misc, "PDF_DELIMITERS", misc.PDF_DELIMITERS + b"|")
    assert accel.install() is False
    assert "PDF_DELIMITERS is not the audited value" in caplog.text


@pytest.mark.parametrize(("setting", "expected"), [(None, True), ("off", False)])
def test_the_verify_command_runs_accelerated_as_its_setting_says(trust_domain, tmp_path,
                                                                 monkeypatch, capsys,
                                                                 setting, expected):
    from certseal.cli import main

    if setting is not None:
        monkeypatch.setenv("CERTSEAL_VERIFY_ACCELERATOR", setting)
    monkeypatch.delenv("CERTSEAL_HOME", raising=False)
    seen = []

    import verify.inputs

    original = verify.inputs.verify_blocking

    def watching(data, context):
        seen.append(not accel.shipped())
        return original(data, context)

    monkeypatch.setattr(verify.inputs, "verify_blocking", watching)
    path = tmp_path / "licence.pdf"
    path.write_bytes(trust_domain.licences["yyzz"].pdf)
    status = main(["verify", "--trust-list", str(trust_domain.published), "--offline",
                   "--json", str(path)])
    assert status == 2  # offline, nothing synced: indeterminate
    assert seen == [expected]
    assert accel.shipped() and accel.installed() is None  # taken out again after


@pytest.mark.parametrize("enabled", [True, False])
def test_verification_workers_run_accelerated_as_their_setting_says(trust_domain, enabled,
                                                                    never_put_in_place):
    """The pool's workers put it in place (this, the server's process, never does)."""
    import asyncio

    import accel_probe

    from certseal.verification_pool import VerificationPool

    settings = trust_domain.domain.settings.model_copy(update={
        "verify_accelerator": enabled, "verify_workers": 1})
    pool = VerificationPool(settings, work=accel_probe.accelerator_state)
    try:
        answer = asyncio.run(pool.verify(trust_domain.licences["yyzz"].pdf, offline=True))
    finally:
        pool.close()
    assert answer["verdict"] in ("valid", "indeterminate")
    assert (answer["installed"], answer["shipped"]) == (enabled, not enabled)
    assert accel.shipped() and accel.installed() is None
