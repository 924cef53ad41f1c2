"""Where signature time-stamps come from: our own TSA in-process, or a TSA over HTTP.

Issuance runs in the same process as the TSA (`ca.tsa.TimeStampAuthority.respond`), so the
seal asks it directly instead of making an HTTP request to itself; the bytes exchanged are
the same RFC 3161 DER either way, and pyHanko checks the answer (status, nonce, imprint)
in both cases.
"""

from __future__ import annotations

from collections.abc import Callable

from asn1crypto import tsp
from pyhanko.sign.timestamps.api import TimeStamper

from seal.sealing_errors import TimestampFailed

TimeStampResponder = Callable[[bytes], bytes]
"""DER TimeStampReq in, DER TimeStampResp out (e.g. `TimeStampAuthority.respond`)."""


class InProcessTimeStamper(TimeStamper):
    """A pyHanko TimeStamper that calls a responder function instead of a URL.

    The call blocks (the TSA signs through the HSM); sealing runs off the event loop.
    Keep one instance per TSA and reuse it: pyHanko caches on it the dummy token it uses
    to learn the TSA's certificates.
    """

    def __init__(self, respond: TimeStampResponder, *, include_nonce: bool = True) -> None:
        if not callable(respond):
            raise TypeError("respond must be a callable (request DER) -> response DER")
        super().__init__(include_nonce=include_nonce)
        self._respond = respond

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        try:
            answer = self._respond(req.dump())
        except Exception as exc:  # the responder is outside this room: name it, keep cause
            raise TimestampFailed(
                f"time-stamp authority failed: {type(exc).__name__}"
            ) from exc
        if not isinstance(answer, bytes | bytearray):
            raise TimestampFailed("time-stamp authority returned no DER bytes")
        try:
            response = tsp.TimeStampResp.load(bytes(answer))
            _ = response["status"]["status"].native  # parse now: a bad answer fails here
        except Exception as exc:
            raise TimestampFailed("time-stamp authority answer is not a TimeStampResp") from exc
        return response
