"""Who may do what: every route of the app × every caller (× licence type or licence where
the route has one), with the one expected outcome of each cell stated in RULES below.

The callers: departments A (granted zyzgzs and spjyxkz) and B (granted yyzz); citizen C1
(holds A's zyzgzs licence) and C2 (holds none); the anonymous caller; a department key
with a wrong secret ("bad key") and an identity token for another audience ("bad token").

Routes come from the app itself (app.routes): a route added without a row in ROUTES
fails `test_every_route_has_a_row`. Only the intended cells succeed, refused ones change
nothing (each status-change cell is tried by the owner last, which works only if nobody
changed the licence before), and a department or citizen never learns that a licence it
may not see exists: the answer is the same 404 as for a licence that was never issued.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import security_kit as kit

from certs.samples import sample_licence_data

ACTORS = ("anonymous", "bad key", "bad token", "A", "B", "C1", "C2")
DEPARTMENTS, CITIZENS = ("A", "B"), ("C1", "C2")
UNAUTHENTICATED = ("anonymous", "bad key", "bad token")
LICENCES = ("A:zyzgzs", "A:spjyxkz", "B:yyzz", "missing")
TYPES = ("zyzgzs", "spjyxkz", "yyzz")


# -- the table: the expected status of each cell -------------------------------------------
def public(actor: str, target: Any = None) -> int:
    """Anyone: credentials, right or wrong, are not looked at."""
    return 200


def read_licence(actor: str, target: str) -> int:
    """The issuing department or the holder; anyone else signed in: 404 as for no licence."""
    if actor in UNAUTHENTICATED:
        return 401
    if target == "missing":
        return 404
    if actor in DEPARTMENTS:
        return 200 if OWNER[target] == actor else 404
    return 200 if HOLDER.get(target) == actor else 404


def change_status(actor: str, target: str) -> int:
    """The issuing department only; a citizen's token is not a department's key (401)."""
    if actor in UNAUTHENTICATED or actor in CITIZENS:
        return 401
    return 200 if target != "missing" and OWNER[target] == actor else 404


def issue(actor: str, type_code: str) -> int:
    """A department, for the types granted to it (403 otherwise)."""
    if actor in UNAUTHENTICATED or actor in CITIZENS:
        return 401
    return 201 if type_code in kit.TYPES_OF[actor] else 403


def issue_batch(actor: str, type_code: str) -> int:
    """As `issue`, but per item: the batch answers 200 and the item carries the status."""
    return 200 if issue(actor, type_code) in (201, 403) else 401


def my_licences(actor: str, target: Any = None) -> int:
    """A signed-in citizen (their own list); a department key is not a citizen (403)."""
    if actor in CITIZENS:
        return 200
    return 403 if actor in DEPARTMENTS or actor == "bad key" else 401


def own_api_keys(actor: str, target: Any = None) -> int:
    """A department, its own keys only."""
    return 200 if actor in DEPARTMENTS else 401


def create_api_key(actor: str, target: Any = None) -> int:
    return 201 if actor in DEPARTMENTS else 401


def revoke_api_key(actor: str, owner: str) -> int:
    """The department whose key it is; another department's key is 'no such key' (404)."""
    if actor not in DEPARTMENTS:
        return 401
    return 204 if actor == owner else 404


OWNER = {"A:zyzgzs": "A", "A:spjyxkz": "A", "B:yyzz": "B"}
HOLDER = {"A:zyzgzs": "C1"}


@dataclass
class Cell:
    actor: str
    target: Any
    method: str
    url: str
    expected: int
    request: dict[str, Any] = field(default_factory=dict)
    check: Callable[[httpx.Response], None] | None = None


Cells = Callable[[kit.Cast], Iterator[Cell]]


def each_actor(rule, method: str, url: str | Callable[[kit.Cast], str], **request) -> Cells:
    def cells(cast: kit.Cast) -> Iterator[Cell]:
        for actor in ACTORS:
            yield Cell(actor, None, method, url(cast) if callable(url) else url,
                       rule(actor), dict(request))
    return cells


def licence_cells(rule, suffix: str = "") -> Cells:
    def cells(cast: kit.Cast) -> Iterator[Cell]:
        for target in LICENCES:
            licence_id = cast.licences.get(target, kit.MISSING_LICENCE)
            for actor in ACTORS:
                yield Cell(actor, target, "GET", f"/v1/licences/{licence_id}{suffix}",
                           rule(actor, target), check=_not_found_like_missing(licence_id))
    return cells


def status_cells(action: str) -> Cells:
    def cells(cast: kit.Cast) -> Iterator[Cell]:
        for target in LICENCES:
            if target == "missing":
                licence_id = kit.MISSING_LICENCE
            else:  # a licence of its own, so the cell's success is not someone else's
                department, type_code = target.split(":")
                licence_id = cast.issue(department, type_code)
                if action == "reinstate":  # only a suspended licence can be reinstated
                    _post(cast, cast.tokens[department], f"/v1/licences/{licence_id}/suspend",
                          json={"reason": "set-up"}).raise_for_status()
            # The owner last: its success shows nobody before it changed the licence.
            for actor in sorted(ACTORS, key=lambda a: a == OWNER.get(target)):
                yield Cell(actor, target, "POST", f"/v1/licences/{licence_id}/{action}",
                           change_status(actor, target), {"json": {"reason": "matrix"}},
                           _not_found_like_missing(licence_id))
    return cells


def issue_cells(cast: kit.Cast) -> Iterator[Cell]:
    for type_code in TYPES:
        for actor in ACTORS:
            yield Cell(actor, type_code, "POST", "/v1/licences", issue(actor, type_code),
                       {"json": {"type": type_code, "data": sample_licence_data(type_code)}})


def batch_cells(path: str) -> Cells:
    def cells(cast: kit.Cast) -> Iterator[Cell]:
        for type_code in TYPES:
            for actor in ACTORS:
                item = {"type": type_code, "data": sample_licence_data(type_code),
                        "idempotency_key": uuid.uuid4().hex}
                yield Cell(actor, type_code, "POST", path, issue_batch(actor, type_code),
                           {"json": {"items": [item]}},
                           _batch_item_is(issue(actor, type_code)))
    return cells


def my_licences_cells(cast: kit.Cast) -> Iterator[Cell]:
    held = {"C1": [cast.licences["A:zyzgzs"]], "C2": []}
    for actor in ACTORS:
        check = _lists_licences(held[actor]) if actor in held else None
        yield Cell(actor, None, "GET", "/v1/me/licences", my_licences(actor), check=check)


def api_key_list_cells(cast: kit.Cast) -> Iterator[Cell]:
    for actor in ACTORS:
        check = None
        if actor in DEPARTMENTS:
            other = "B" if actor == "A" else "A"
            check = _keys_exclude(cast.tokens[other].split("_")[1])
        yield Cell(actor, None, "GET", "/v1/departments/me/api-keys", own_api_keys(actor),
                   check=check)


def api_key_revoke_cells(cast: kit.Cast) -> Iterator[Cell]:
    for owner in DEPARTMENTS:
        created = _post(cast, cast.tokens[owner], "/v1/departments/me/api-keys")
        key_id = created.json()["key_id"]
        for actor in sorted(ACTORS, key=lambda a: a == owner):
            yield Cell(actor, owner, "DELETE", f"/v1/departments/me/api-keys/{key_id}",
                       revoke_api_key(actor, owner))


def _ocsp_get(cast: kit.Cast) -> str:
    return kit.ocsp_get_path(cast.ocsp_request)


def _status_list(cast: kit.Cast) -> str:
    return f"/pki/status/{cast.department_ids['A']}"


# Every route of the app, (method, path template) -> the cells that exercise it.
ROUTES: dict[tuple[str, str], Cells] = {
    ("POST", "/v1/licences"): issue_cells,
    ("POST", "/v1/licences:batch"): batch_cells("/v1/licences:batch"),
    ("POST", "/v1/licences/batch"): batch_cells("/v1/licences/batch"),
    ("GET", "/v1/licences/{licence_id}"): licence_cells(read_licence),
    ("GET", "/v1/licences/{licence_id}/pdf"): licence_cells(read_licence, "/pdf"),
    ("POST", "/v1/licences/{licence_id}/revoke"): status_cells("revoke"),
    ("POST", "/v1/licences/{licence_id}/suspend"): status_cells("suspend"),
    ("POST", "/v1/licences/{licence_id}/reinstate"): status_cells("reinstate"),
    ("GET", "/v1/me/licences"): my_licences_cells,
    ("GET", "/v1/licence-types"): each_actor(public, "GET", "/v1/licence-types"),
    ("GET", "/v1/departments/me/api-keys"): api_key_list_cells,
    ("POST", "/v1/departments/me/api-keys"): each_actor(
        create_api_key, "POST", "/v1/departments/me/api-keys"),
    ("DELETE", "/v1/departments/me/api-keys/{key_id}"): api_key_revoke_cells,
    ("POST", "/v1/verify"): lambda cast: each_actor(
        public, "POST", "/v1/verify", content=cast.pdf,
        headers={"Content-Type": "application/pdf"})(cast),
    ("GET", "/pki/ca/{name}.crt"): each_actor(public, "GET", "/pki/ca/issuing.crt"),
    ("GET", "/pki/crl/{name}.crl"): each_actor(public, "GET", "/pki/crl/issuing.crl"),
    ("GET", "/pki/trust-list"): each_actor(public, "GET", "/pki/trust-list"),
    ("GET", "/pki/trust-list.xml"): each_actor(public, "GET", "/pki/trust-list.xml"),
    ("GET", "/pki/trust-list.sha2"): each_actor(public, "GET", "/pki/trust-list.sha2"),
    # A region publishes no list of lists (a national operator's home does): 404 for all.
    ("GET", "/pki/list-of-lists.xml"): each_actor(lambda actor, target=None: 404, "GET",
                                                  "/pki/list-of-lists.xml"),
    ("POST", "/pki/ocsp"): lambda cast: each_actor(
        public, "POST", "/pki/ocsp", content=cast.ocsp_request,
        headers={"Content-Type": "application/ocsp-request"})(cast),
    ("GET", "/pki/ocsp/{encoded:path}"): each_actor(public, "GET", _ocsp_get),
    ("POST", "/pki/tsa"): lambda cast: each_actor(
        public, "POST", "/pki/tsa", content=cast.tsa_request,
        headers={"Content-Type": "application/timestamp-query"})(cast),
    ("GET", "/pki/status"): each_actor(public, "GET", "/pki/status"),
    ("GET", "/pki/status/{department_id}"): each_actor(public, "GET", _status_list),
    ("GET", "/healthz"): each_actor(public, "GET", "/healthz"),
    ("GET", "/readyz"): each_actor(public, "GET", "/readyz"),
    ("GET", "/metrics"): each_actor(public, "GET", "/metrics"),
    ("GET", "/"): each_actor(public, "GET", "/"),
    ("GET", "/verify"): each_actor(public, "GET", "/verify"),
    ("GET", "/me"): each_actor(public, "GET", "/me"),
    ("GET", "/web/{asset:path}"): each_actor(public, "GET", "/web/site.css"),
    ("GET", "/docs"): each_actor(public, "GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"): each_actor(public, "GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"): each_actor(public, "GET", "/redoc"),
    ("GET", "/openapi.json"): each_actor(public, "GET", "/openapi.json"),
}


# -- checks beyond the status --------------------------------------------------------------
def _not_found_like_missing(licence_id: str) -> Callable[[httpx.Response], None]:
    def check(answer: httpx.Response) -> None:
        if answer.status_code == 404:  # word for word what a never-issued licence gets
            body = answer.json()
            assert body["code"] == "licence_not_found", body
            assert body["detail"].replace(licence_id, "<id>") == "no licence <id>", body
    return check


def _batch_item_is(status: int) -> Callable[[httpx.Response], None]:
    def check(answer: httpx.Response) -> None:
        if answer.status_code != 200:
            return
        (item,) = answer.json()["results"]
        if status == 201:
            assert item["outcome"] == "issued", item
        else:
            assert item["outcome"] == "failed" and item["problem"]["status"] == status, item
    return check


def _lists_licences(expected: list[str]) -> Callable[[httpx.Response], None]:
    def check(answer: httpx.Response) -> None:
        assert [entry["licence_id"] for entry in answer.json()["licences"]] == expected
    return check


def _keys_exclude(key_id: str) -> Callable[[httpx.Response], None]:
    def check(answer: httpx.Response) -> None:
        assert key_id not in {key["key_id"] for key in answer.json()["keys"]}
    return check


def _post(cast: kit.Cast, token: str | None, url: str, **request: Any) -> httpx.Response:
    with _client(cast, token) as client:
        return client.post(url, **request)


def _client(cast: kit.Cast, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=cast.base_url, headers=headers, timeout=60)


def app_routes(app) -> set[tuple[str, str]]:
    """(method, path template) of every route, including those of included routers."""
    found = set()
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):  # FastAPI's included routers
            entries = [(c.methods, c.path) for c in route.effective_route_contexts()]
        else:
            entries = [(route.methods, route.path)]
        for methods, path in entries:
            found |= {(method, path) for method in methods if method != "HEAD"}
    return found


# -- the tests -----------------------------------------------------------------------------
def test_every_route_has_a_row(cast):
    routes = app_routes(cast.app)
    assert routes - ROUTES.keys() == set(), "routes without a row in the matrix"
    assert ROUTES.keys() - routes == set(), "matrix rows for routes that do not exist"


@pytest.mark.parametrize("route", list(ROUTES), ids=[f"{m} {p}" for m, p in ROUTES])
def test_only_the_intended_cells_succeed(cast, route):
    wrong = []
    cells = 0
    for cell in ROUTES[route](cast):
        cells += 1
        with _client(cast, cast.tokens[cell.actor]) as client:
            answer = client.request(cell.method, cell.url, **cell.request)
        if answer.status_code != cell.expected:
            wrong.append(f"{cell.actor} × {cell.target}: {answer.status_code} "
                         f"(expected {cell.expected}) {answer.text[:160]}")
            continue
        if cell.check is not None:
            cell.check(answer)
        if answer.status_code >= 400:
            assert answer.headers["content-type"] == "application/problem+json", cell
    assert cells >= len(ACTORS)
    assert wrong == []
