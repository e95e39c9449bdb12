"""Administration: accounts, organisation members, namespace ownership."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from weightwatch.registry import accounts
from weightwatch.registry.access import Principal
from weightwatch.registry.store import parse_name
from weightwatch.server import auth
from weightwatch.server.api.common import Api
from weightwatch.server.api_models import Member, NamespaceView, NewUser, OrgView, Owner, UserView


def user_view(u: accounts.User) -> UserView:
    return UserView(
        name=u.name,
        role=u.role,
        email=u.email,
        country=u.country,
        orgs=list(u.orgs),
        disabled=u.disabled,
    )


def add_routes(api: APIRouter, ctx: Api) -> None:
    store = ctx.store

    @api.get("/users", response_model=list[UserView], tags=["admin"])
    def list_users(who: Principal = ctx.admin) -> list[UserView]:
        return [user_view(u) for u in accounts.users(store)]

    @api.post("/users", response_model=UserView, status_code=201, tags=["admin"])
    def add_user(body: NewUser, request: Request, who: Principal = ctx.admin) -> UserView:
        u = accounts.create_user(
            store,
            body.name,
            body.password,
            role=body.role,
            email=body.email,
            country=body.country,
            orgs=tuple(body.orgs),
        )
        accounts.record(
            store, who.user, "user.create", u.name, client=auth.client_of(request), role=u.role
        )
        return user_view(u)

    @api.post("/orgs/{org}/members", response_model=OrgView, tags=["admin"])
    def add_member(org: str, body: Member, request: Request, who: Principal = ctx.admin) -> OrgView:
        accounts.add_member(store, org, body.user)
        accounts.record(
            store, who.user, "org.member", org, client=auth.client_of(request), user=body.user
        )
        return OrgView(org=org, members=ctx.registry.org_members(org))

    @api.put("/namespaces/{ns}", response_model=NamespaceView, tags=["admin"])
    def own_namespace(ns: str, body: Owner, request: Request, who: Principal = ctx.admin) -> Any:
        parse_name(f"{ns}/x")  # the namespace must be one a model could have
        accounts.set_namespace_owner(store, ns, body.org)
        accounts.record(
            store, who.user, "namespace.owner", ns, client=auth.client_of(request), org=body.org
        )
        return NamespaceView(namespace=ns, org=body.org)
