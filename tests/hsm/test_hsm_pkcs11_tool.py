"""An outside tool (OpenSC's pkcs11-tool) sees every private key as sensitive and never
extractable, and cannot read one out."""

from __future__ import annotations

import os
import re
import subprocess

from hsm.token import HsmConfig, KeySpec, Token


def _pkcs11_tool(config: HsmConfig, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOFTHSM2_CONF": str(config.softhsm_conf)}
    return subprocess.run(
        ["pkcs11-tool", "--module", str(config.module), "--token-label", config.token_label,
         "--login", "--pin", config.user_pin, *args],
        env=env, capture_output=True, text=True, check=False, timeout=60,
    )


def _private_key_entries(listing: str) -> dict[str, str]:
    """label -> Access line of each "Private Key Object" block."""
    entries = {}
    for block in re.split(r"\n(?=\S)", listing):
        if not block.startswith("Private Key Object"):
            continue
        label = re.search(r"^\s+label:\s+(.*)$", block, re.M)
        access = re.search(r"^\s+Access:\s+(.*)$", block, re.M)
        assert label and access, block
        entries[label.group(1).strip()] = access.group(1).strip()
    return entries


def test_every_private_key_is_sensitive_and_never_extractable(softhsm_token: HsmConfig):
    labels = {f"listed-{spec.value}" for spec in KeySpec}
    with Token.open(softhsm_token) as token:
        for spec in KeySpec:
            token.generate_key(f"listed-{spec.value}", spec)
    result = _pkcs11_tool(softhsm_token, "--list-objects")
    assert result.returncode == 0, result.stderr
    entries = _private_key_entries(result.stdout)
    assert set(entries) == labels
    for label, access in entries.items():
        flags = {flag.strip() for flag in access.split(",")}
        assert {"sensitive", "always sensitive", "never extractable"} <= flags, (label, access)
        assert "extractable" not in flags
    # The ids say what each key is for: CKA_ID is the label's bytes.
    for label in labels:
        assert f"ID:         {label.encode().hex()}" in result.stdout


def test_private_key_cannot_be_read_out(softhsm_token: HsmConfig, tmp_path):
    with Token.open(softhsm_token) as token:
        token.generate_key("unreadable")
    out = tmp_path / "key.der"
    result = _pkcs11_tool(softhsm_token, "--read-object", "--type", "privkey",
                          "--label", "unreadable", "--output-file", str(out))
    # pkcs11-tool (OpenSC 0.23) refuses with a message (and exit status 0); what matters is that
    # nothing comes out. The token's own refusal (CKR_ATTRIBUTE_SENSITIVE) is pinned in
    # test_hsm_token.py::test_key_attributes_on_the_token.
    assert "not" in result.stderr, result.stderr
    assert not out.exists() or out.stat().st_size == 0
    # The public half, by contrast, reads fine: the failure above is about the private key.
    public = _pkcs11_tool(softhsm_token, "--read-object", "--type", "pubkey",
                          "--label", "unreadable", "--output-file", str(out))
    assert public.returncode == 0, public.stderr
    assert out.stat().st_size > 0
