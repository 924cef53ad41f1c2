"""hsm: the only room that speaks PKCS#11 (python-pkcs11; SoftHSM2 is the embedded default).

- `hsm.token`: `HsmConfig`, `KeySpec`, `Token` (open by label, generate/find/delete keys).
- `hsm.keys`: `HsmEcPrivateKey`, `HsmRsaPrivateKey` — cryptography private keys that sign
  on the token, usable with cryptography's certificate, CRL and OCSP builders.
- `hsm.softhsm`: a SoftHSM2 configuration and token inside a certseal home.
- `hsm.errors`: `HsmError` and its subclasses.
"""
