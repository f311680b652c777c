"""Identity routes: who am I, users and their API keys, teams, members, projects.

Ingest is the one writer of the identity database; every service reads it to authenticate.
"""

from __future__ import annotations

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.http.access import require_role
from cairn_shared.http.auth_cache import AUTH_CACHE
from cairn_shared.http.errors import ApiError, conflict, forbidden, not_found
from cairn_shared.http.keys import IDENTITY, principal
from cairn_shared.http.requests import entity_param, path_param, read_json
from cairn_shared.names import check_entity_name, check_project_name
from pydantic import BaseModel, ConfigDict, Field, field_validator

routes = web.RouteTableDef()


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    admin: bool = False

    _name = field_validator("name")(check_entity_name)


class NewTeam(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str

    _name = field_validator("name")(check_entity_name)


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="default", min_length=1, max_length=64)


class Membership(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str

    @field_validator("role")
    @classmethod
    def _known(cls, value: str) -> str:
        return Role.parse(value).label


class NewProject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str

    _name = field_validator("name")(check_project_name)


@routes.get("/v1/viewer")
async def viewer(request: web.Request) -> web.Response:
    """The caller, as W&B's ``viewer`` query: name, server-admin flag, roles by entity."""
    caller = principal(request)
    return web.json_response(
        {
            "user": caller.user,
            "admin": caller.is_admin,
            "default_entity": caller.default_entity,
            "entities": {entity: role.label for entity, role in sorted(caller.roles.items())},
        }
    )


@routes.post("/v1/users")
async def create_user(request: web.Request) -> web.Response:
    """Server admins add users; the answer holds the new user's first API key, shown once."""
    if not principal(request).is_admin:
        raise forbidden("only a server admin can add users")
    body = await read_json(request, NewUser)
    identity = request.app[IDENTITY]
    if await identity.entity_exists(body.name):
        raise conflict(f"the name {body.name!r} is taken by a user or team")
    await identity.create_user(body.name, is_admin=body.admin)
    key = await identity.create_api_key(body.name, "default")
    roles_changed(request)
    return web.json_response({"user": body.name, "api_key": key}, status=201)


@routes.post("/v1/users/{user}/api-keys")
async def create_api_key(request: web.Request) -> web.Response:
    caller = principal(request)
    user = path_param(request, "user", check_entity_name)
    if user != caller.user and not caller.is_admin:
        raise not_found(f"user {user!r} not found")
    body = await read_json(request, NewKey)
    identity = request.app[IDENTITY]
    if not await identity.user_exists(user):
        raise not_found(f"user {user!r} not found")
    key = await identity.create_api_key(user, body.name)
    return web.json_response({"user": user, "name": body.name, "api_key": key}, status=201)


@routes.post("/v1/teams")
async def create_team(request: web.Request) -> web.Response:
    """Any user may create a team and becomes its admin."""
    caller = principal(request)
    body = await read_json(request, NewTeam)
    if not await request.app[IDENTITY].create_team(body.name, owner=caller.user):
        raise conflict(f"the name {body.name!r} is taken by a user or team")
    roles_changed(request)
    return web.json_response({"team": body.name, "admin": caller.user}, status=201)


@routes.get("/v1/entities/{entity}/members")
async def list_members(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.VIEWER)
    members = await request.app[IDENTITY].members(entity)
    return web.json_response(
        {"entity": entity, "members": {user: role.label for user, role in sorted(members.items())}}
    )


@routes.put("/v1/entities/{entity}/members/{user}")
async def set_member(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.ADMIN)
    user = path_param(request, "user", check_entity_name)
    body = await read_json(request, Membership)
    identity = request.app[IDENTITY]
    if not await identity.user_exists(user):
        raise not_found(f"user {user!r} not found")
    if user == entity:
        raise ApiError(409, "conflict", "a user is always admin of its own entity")
    await identity.set_role(entity, user, Role.parse(body.role))
    roles_changed(request)
    return web.json_response({"entity": entity, "user": user, "role": body.role})


@routes.get("/v1/entities/{entity}/projects")
async def list_projects(request: web.Request) -> web.Response:
    entity = entity_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    return web.json_response(
        {"entity": entity, "projects": await request.app[IDENTITY].projects(entity)}
    )


@routes.post("/v1/entities/{entity}/projects")
async def create_project(request: web.Request) -> web.Response:
    entity = entity_param(request)
    caller = require_role(request, entity, Role.MEMBER)
    body = await read_json(request, NewProject)
    created = await request.app[IDENTITY].create_project(entity, body.name, created_by=caller.user)
    return web.json_response(
        {"entity": entity, "project": body.name, "created": created}, status=201 if created else 200
    )


def roles_changed(request: web.Request) -> None:
    """This process forgets the principals it cached, so the change shows on the caller's next
    request; other processes see it within the cache's lifetime."""
    request.app[AUTH_CACHE].clear()
