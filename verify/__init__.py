"""Everything a relying party does: verify a sealed licence PDF, its QR text or a picture of
it, against the accepted trust lists, and say so in one report (``verify.report``).

Imports ``certs`` and the pure data module ``ca.trustlist`` only: a counter verifies with
no HSM, no CA database and, offline, no network."""
