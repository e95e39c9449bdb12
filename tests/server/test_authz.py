"""The authorisation matrix: every endpoint × every role × every access tier.

The expected outcomes are written out below as tables (rows: tiers; columns: roles), not
computed by the code under test, so a change of policy must change this file too.

Writes are probed with a deliberately incomplete body (a blank reason, an unknown gate
mode, a rejection without its reason…): a caller who passes authorisation gets the 400
that names the problem, one who does not gets 401/403/404, and nothing is changed.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.registry.conftest import TIER_MODELS, register_tiers
from tests.services import database_url, serving
from weightwatch.registry import Registry
from weightwatch.registry.access import create_token, set_grant, set_model_access
from weightwatch.registry.accounts import create_user, set_namespace_owner

pytestmark = pytest.mark.slow

ROLES = (
    "anonymous",  # no token
    "user",  # a signed-in user with no grant
    "granted",  # a user whose request for acme/gated was accepted
    "member",  # a user in "partner", the organisation acme/restricted is restricted to
    "auditor",
    "owner",  # a publisher in "acme", the organisation owning the namespace acme
    "rival",  # a publisher of another organisation
    "reviewer",
    "admin",
)
TIERS = ("public", "gated", "restricted", "quarantined", "taken_down")
MODEL = TIER_MODELS


def table(text: str) -> dict[tuple[str, str], str]:
    """Parse a policy table: a header of roles, then one row of outcomes per tier."""
    lines = [line.split() for line in text.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert tuple(header) == ROLES, header
    out = {}
    for row in rows:
        tier, cells = row[0], row[1:]
        assert tier in TIERS and len(cells) == len(ROLES), row
        out.update({(tier, role): cell for role, cell in zip(ROLES, cells, strict=True)})
    assert len(out) == len(TIERS) * len(ROLES)
    return out


# -- the policy --------------------------------------------------------------------------
# listed by GET /api/v1/models (yes / no)
LISTED = table("""
              anonymous user granted member auditor owner rival reviewer admin
public        yes       yes  yes     yes    yes     yes   yes   yes      yes
gated         yes       yes  yes     yes    yes     yes   yes   yes      yes
restricted    no        no   no      yes    yes     yes   no    yes      yes
quarantined   no        no   no      no     yes     no    no    yes      yes
taken_down    yes       yes  yes     yes    yes     yes   yes   yes      yes
""")
# metadata: a model, a version, its decisions, lineage, gate form (auditors
# read everything the registry records; they download by tier, like users)
META = table("""
              anonymous user granted member auditor owner rival reviewer admin
public        200       200  200     200    200     200   200   200      200
gated         200       200  200     200    200     200   200   200      200
restricted    404       404  404     200    200     200   404   200      200
quarantined   404       404  404     404    200     404   404   200      200
taken_down    200       200  200     200    200     200   200   200      200
""")
# content: a version's file list and reports (a takedown hides them from all but staff
# and auditors)
CONTENT = table("""
              anonymous user granted member auditor owner rival reviewer admin
public        200       200  200     200    200     200   200   200      200
gated         200       200  200     200    200     200   200   200      200
restricted    404       404  404     200    200     200   404   200      200
quarantined   404       404  404     404    200     404   404   200      200
taken_down    403       403  403     403    200     403   403   200      200
""")
# model settings and deciding requests: managers (admin, reviewer, owning publisher)
MANAGE = table("""
              anonymous user granted member auditor owner rival reviewer admin
public        401       403  403     403    403     400   403   400      400
gated         401       403  403     403    403     400   403   400      400
restricted    401       404  404     403    403     400   404   400      400
quarantined   401       404  404     404    403     404   404   400      400
taken_down    401       403  403     403    403     400   403   400      400
""")
# the access report CSV: managers, and auditors for every model
REPORT = table("""
              anonymous user granted member auditor owner rival reviewer admin
public        401       403  403     403    200     200   403   200      200
gated         401       403  403     403    200     200   403   200      200
restricted    401       404  404     403    200     200   404   200      200
quarantined   401       404  404     404    200     404   404   200      200
taken_down    401       403  403     403    200     200   403   200      200
""")
# requesting access: signed-in callers, gated models only (409: nothing to request)
REQUEST = table("""
              anonymous user granted member auditor owner rival reviewer admin
public        401       409  409     409    409     409   409   409      409
gated         401       400  400     400    400     400   400   400      400
restricted    401       404  404     409    409     409   404   409      409
quarantined   401       404  404     404    409     404   404   409      409
taken_down    401       409  409     409    409     409   409   409      409
""")
# takedown, reinstatement and release from quarantine: reviewers and admins, whatever
# the tier (the blank reason is refused before the status: 400, not 409)
STAFF_WRITE = table("""
              anonymous user granted member auditor owner rival reviewer admin
public        401       403  403     403    403     403   403   400      400
gated         401       403  403     403    403     403   403   400      400
restricted    401       403  403     403    403     403   403   400      400
quarantined   401       403  403     403    403     403   403   400      400
taken_down    401       403  403     403    403     403   403   400      400
""")
# the Hub's model info and tree listing (gated repos are listed, as on the Hub)
HUB_INFO = table("""
              anonymous user granted member auditor owner rival reviewer admin
public        200       200  200     200    200     200   200   200      200
gated         200       200  200     200    200     200   200   200      200
restricted    404       404  404     200    404     200   404   200      200
quarantined   404       404  404     404    404     404   404   200      200
taken_down    403       403  403     403    403     403   403   403      403
""")
# the Hub's file download (HEAD and GET resolve): the tiers themselves
HUB_FILE = table("""
              anonymous user granted member auditor owner rival reviewer admin
public        200       200  200     200    200     200   200   200      200
gated         403       403  200     403    403     200   403   200      200
restricted    404       404  404     200    404     200   404   200      200
quarantined   404       404  404     404    404     404   404   200      200
taken_down    403       403  403     403    403     403   403   403      403
""")

# the web UI's model page (a page for everyone who may see the model; 404 otherwise)
UI_PAGE = table("""
              anonymous user granted member auditor owner rival reviewer admin
public        200       200  200     200    200     200   200   200      200
gated         200       200  200     200    200     200   200   200      200
restricted    404       404  404     200    200     200   404   200      200
quarantined   404       404  404     404    200     404   404   200      200
taken_down    200       200  200     200    200     200   200   200      200
""")
# a recipient's signed copy record: signed-in callers who may download (none of these
# versions is served as recipient copies, so those get 404; the others 403, or 404 where
# the version is hidden from them)
COPY = table("""
              anonymous user granted member auditor owner rival reviewer admin
public        401       404  404     404    404     404   404   404      404
gated         401       403  404     403    403     404   403   404      404
restricted    401       404  404     404    403     404   404   404      404
quarantined   401       404  404     404    403     404   404   404      404
taken_down    401       403  403     403    403     403   403   403      403
""")

V = "/api/v1/models/{m}"
TIERED: list[tuple[str, str, dict[str, Any] | None, dict[tuple[str, str], str]]] = [
    ("GET", V, None, META),
    ("GET", V + "/versions/1", None, META),
    ("GET", V + "/versions/1/decisions", None, META),
    ("GET", V + "/versions/1/attestation", None, CONTENT),  # its manifest lists the files
    ("GET", V + "/lineage", None, META),
    ("GET", V + "/gate", None, META),
    ("GET", V + "/versions/1/files", None, CONTENT),
    ("GET", V + "/versions/1/reports/scan", None, CONTENT),
    ("GET", V + "/versions/1/reports/facts", None, CONTENT),
    ("GET", V + "/versions/1/copy", None, COPY),
    ("PUT", V + "/access", {"gate_mode": "sometimes"}, MANAGE),
    ("POST", V + "/access-requests/user", {"state": "rejected"}, MANAGE),
    ("GET", V + "/access-report.csv", None, REPORT),
    ("POST", V + "/access-requests", {"answers": {"no such field": "x"}}, REQUEST),
    ("POST", V + "/versions/1/takedown", {"reason": " "}, STAFF_WRITE),
    ("POST", V + "/versions/1/reinstate", {"reason": " "}, STAFF_WRITE),
    ("POST", V + "/versions/1/release", {"reason": " "}, STAFF_WRITE),
    ("GET", "/models/{m}", None, UI_PAGE),
    ("GET", "/api/models/{m}", None, HUB_INFO),
    ("GET", "/api/models/{m}/tree/main", None, HUB_INFO),
    ("HEAD", "/{m}/resolve/main/config.json", None, HUB_FILE),
    ("GET", "/{m}/resolve/main/config.json", None, HUB_FILE),
]

# endpoints that are not about one model: the role alone decides; outcomes per role for
#                                                 anonymous user granted member auditor owner rival reviewer admin
UNTIERED: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", "/api/v1/me", None, "401 200 200 200 200 200 200 200 200"),
    ("POST", "/api/v1/tokens", None, "401 201 201 201 201 201 201 201 201"),
    ("GET", "/api/v1/access-requests", None, "401 200 200 200 200 200 200 200 200"),
    ("GET", "/api/v1/users", None, "401 403 403 403 403 403 403 403 200"),
    (
        "POST",
        "/api/v1/users",
        {"name": "probe", "password": "long enough", "role": "emperor"},
        "401 403 403 403 403 403 403 403 400",
    ),
    (
        "POST",
        "/api/v1/orgs/acme/members",
        {"user": "nobody"},
        "401 403 403 403 403 403 403 403 400",
    ),
    (
        "PUT",
        "/api/v1/namespaces/zeta",
        {"org": "Not An Org!"},
        "401 403 403 403 403 403 403 403 400",
    ),
    ("GET", "/api/v1/audit/downloads", None, "401 403 403 403 200 403 403 403 200"),
    ("GET", "/api/v1/audit/events", None, "401 403 403 403 200 403 403 403 200"),
    ("GET", "/api/v1/log/checkpoint", None, "200 200 200 200 200 200 200 200 200"),
    ("GET", "/api/v1/log/key", None, "200 200 200 200 200 200 200 200 200"),
    ("GET", "/api/v1/log/entries", None, "200 200 200 200 200 200 200 200 200"),
    ("GET", "/api/v1/log/entries/0", None, "200 200 200 200 200 200 200 200 200"),
    ("GET", "/api/v1/log/entries/0/proof", None, "200 200 200 200 200 200 200 200 200"),
    ("GET", "/api/v1/log/consistency?first=1", None, "200 200 200 200 200 200 200 200 200"),
    ("GET", "/api/v1/models", None, "200 200 200 200 200 200 200 200 200"),
    ("POST", "/api/v1/logout", None, "200 200 200 200 200 200 200 200 200"),
    # uploads: admins, and publishers into a namespace their organisation owns
    (
        "POST",
        "/api/v1/uploads",
        {"model": "acme/probe", "access": "public"},
        "401 403 403 403 403 201 403 403 201",
    ),
    (
        "POST",
        "/api/v1/uploads",
        {"model": "rival/probe", "access": "public"},
        "401 403 403 403 403 403 201 403 201",
    ),
    ("DELETE", "/api/v1/tokens", None, "401 200 200 200 200 200 200 200 200"),  # last: revokes
]

ACCOUNTS = {  # name -> (role, organisations)
    "user": ("user", ()),
    "granted": ("user", ()),
    "member": ("user", ("partner",)),
    "auditor": ("auditor", ()),
    "owner": ("publisher", ("acme",)),
    "rival": ("publisher", ("rival",)),
    "reviewer": ("reviewer", ()),
    "admin": ("admin", ()),
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tiers(request, tmp_path_factory, llama_family, gpt2_family):  # type: ignore[no-untyped-def]
    """One registry holding one model per tier, served over HTTP, and a token per role."""
    tmp = tmp_path_factory.mktemp("authz")
    db = database_url(request, tmp)
    reg = Registry.open(tmp / "reg", db, init=True)
    register_tiers(reg, tmp, llama_family, gpt2_family, reason="matrix test")
    store = reg.store
    for name, (role, orgs) in ACCOUNTS.items():
        create_user(store, name, "password-of-" + name, role=role, orgs=orgs)
    set_namespace_owner(store, "acme", "acme")
    set_model_access(store, MODEL["restricted"], allowed_orgs=["partner"])
    set_grant(store, MODEL["gated"], "granted", "accepted", actor="admin")
    tokens = {name: create_token(store, name) for name in ACCOUNTS}
    statuses = {tier: reg.status(m).status for tier, m in MODEL.items()}
    assert statuses == {
        "public": "published",
        "gated": "gated",
        "restricted": "restricted",
        "quarantined": "quarantined",
        "taken_down": "taken_down",
    }
    from weightwatch.server import create_app

    with serving(create_app(tmp / "reg", db)) as url:
        yield url, tokens
    reg.close()


def _headers(tokens: dict[str, str], role: str) -> dict[str, str]:
    return {} if role == "anonymous" else {"Authorization": f"Bearer {tokens[role]}"}


def test_every_endpoint_role_and_tier(tiers):  # type: ignore[no-untyped-def]
    url, tokens = tiers
    wrong: list[str] = []
    checked = 0
    with httpx.Client(base_url=url, timeout=30) as http:

        def check(method: str, path: str, body: Any, role: str, want: str) -> None:
            nonlocal checked
            r = http.request(method, path, json=body, headers=_headers(tokens, role))
            checked += 1
            if str(r.status_code) != want:
                wrong.append(
                    f"{method} {path} as {role}: {r.status_code}, want {want} {r.text[:120]}"
                )
            elif r.status_code >= 400 and method != "HEAD" and not path.startswith("/models/"):
                assert "error" in r.json(), (method, path, r.text)

        for role in ROLES:
            listed = {
                m["model"]
                for m in http.get("/api/v1/models", headers=_headers(tokens, role)).json()
            }
            for tier in TIERS:
                expected_listed = LISTED[tier, role] == "yes"
                if (MODEL[tier] in listed) != expected_listed:
                    wrong.append(
                        f"GET /api/v1/models as {role}: {tier} listed={not expected_listed}"
                    )
        for method, template, body, expected in TIERED:
            for tier in TIERS:
                for role in ROLES:
                    path = template.format(m=MODEL[tier])
                    check(method, path, body, role, expected[tier, role])
        for method, path, body, row in UNTIERED:
            for role, want in zip(ROLES, row.split(), strict=True):
                check(method, path, body, role, want)
    assert not wrong, f"{len(wrong)} of {checked} outcomes differ:\n" + "\n".join(wrong)
    assert checked == len(TIERED) * len(TIERS) * len(ROLES) + len(UNTIERED) * len(ROLES)


def test_bad_or_revoked_tokens_are_refused_not_anonymous(tiers):  # type: ignore[no-untyped-def]
    url, _ = tiers
    bad = {"Authorization": "Bearer ww_not-a-token"}
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/api/v1/models", headers=bad).status_code == 401
        assert http.get("/api/v1/models/acme/public", headers=bad).status_code == 401
        # the Hub answers a bad token like a missing repository, as the Hub does
        assert http.get("/api/models/acme/public", headers=bad).status_code == 404
