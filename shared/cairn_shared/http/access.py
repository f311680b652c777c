"""Access checks for routes that act inside an entity."""

from __future__ import annotations

from aiohttp import web

from cairn_shared.auth.principal import Principal
from cairn_shared.auth.roles import Role
from cairn_shared.http.errors import ApiError
from cairn_shared.http.keys import principal


def require_role(request: web.Request, entity: str, minimum: Role) -> Principal:
    """The caller, if it holds ``minimum`` in ``entity``.

    A caller with no role at all gets 404, as if the entity did not exist: another entity's
    names are not to be learned by probing. A caller with a lesser role gets 403.
    """
    caller = principal(request)
    role = caller.role_in(entity)
    if role is None:
        raise ApiError(404, "not_found", f"entity {entity!r} not found")
    if role < minimum:
        raise ApiError(
            403,
            "forbidden",
            f"this needs the {minimum.label} role in {entity!r}; you are {role.label}",
        )
    return caller
