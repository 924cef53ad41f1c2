"""The PKI core: CA hierarchy, certificate profiles, revocation and CRLs.

Modules: `profiles` (what each certificate looks like, and signing one), `names` (subject
names, USCC and organizationIdentifier), `hierarchy` (create the trust domain, issue e-seal
certificates, load CAs), `revocation` (revoke, hold, reinstate), `crl` (sign CRLs),
`models`/`store` (tables and queries), `errors`. Keys are any `cryptography` private key
objects: software keys in tests, HSM-backed ones (from hsm/) in service.
"""
