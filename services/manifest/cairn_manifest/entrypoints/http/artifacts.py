"""Artifact reads: collections, their versions, one version by alias or ``vN``, submissions."""

from __future__ import annotations

from aiohttp import web
from cairn_shared.auth.roles import Role
from cairn_shared.http.access import require_role
from cairn_shared.http.errors import bad_request, not_found
from cairn_shared.http.requests import entity_param, path_param, project_param
from cairn_shared.names import check_artifact_name, check_artifact_type

from cairn_manifest.domain.versioning import parse_ref, version_label
from cairn_manifest.entrypoints.http.app_keys import ARTIFACTS, SUBMISSIONS
from cairn_manifest.entrypoints.http.lookup import collection_or_404
from cairn_manifest.entrypoints.http.reads import describe_collections, describe_versions

routes = web.RouteTableDef()
PROJECT_URL = "/v1/entities/{entity}/projects/{project}"
ARTIFACT_URL = PROJECT_URL + "/artifacts/{name}"
DEFAULT_PAGE = 50
MAX_PAGE = 100


def _scope(request: web.Request) -> tuple[str, str]:
    """Entity and project of the path, if the caller may read there (restricted viewer)."""
    entity, project = entity_param(request), project_param(request)
    require_role(request, entity, Role.RESTRICTED_VIEWER)
    return entity, project


@routes.get(PROJECT_URL + "/submissions/{submission_id}")
async def get_submission(request: web.Request) -> web.Response:
    """What became of a submission; unknown (not yet applied, or another project's) is pending."""
    entity, project = _scope(request)
    submission = await request.app[SUBMISSIONS].get(request.match_info["submission_id"])
    if submission is None or (submission["entity"], submission["project"]) != (entity, project):
        return web.json_response({"status": "pending"})
    if submission["status"] == "rejected":
        return web.json_response({"status": "rejected", "reason": submission["reason"]})
    sequence, index = submission["sequence"], submission["version_index"]
    version = await request.app[ARTIFACTS].version(sequence, index)
    described = await describe_versions(request.app, sequence, [version] if version else [])
    return web.json_response(
        {"status": "committed", "version": described[0] if described else None}
    )


@routes.get(PROJECT_URL + "/artifacts")
async def list_collections(request: web.Request) -> web.Response:
    entity, project = _scope(request)
    artifact_type = request.query.get("type") or None
    if artifact_type is not None:
        try:
            check_artifact_type(artifact_type)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
    sequences = await request.app[ARTIFACTS].sequences(entity, project, artifact_type=artifact_type)
    return web.json_response({"artifacts": await describe_collections(request.app, sequences)})


@routes.get(ARTIFACT_URL)
async def get_collection(request: web.Request) -> web.Response:
    entity, project = _scope(request)
    name = path_param(request, "name", check_artifact_name)
    hint = request.query.get("hint", "true") != "false"
    sequence = await collection_or_404(request.app, entity, project, name, hint=hint)
    [collection] = await describe_collections(request.app, [sequence])
    return web.json_response(collection)


@routes.get(ARTIFACT_URL + "/versions")
async def list_versions(request: web.Request) -> web.Response:
    """Oldest first, ``limit`` at a time; ``next`` is the ``after`` of the following page."""
    entity, project = _scope(request)
    name = path_param(request, "name", check_artifact_name)
    limit = _int_query(request, "limit", DEFAULT_PAGE, low=1, high=MAX_PAGE)
    after = _int_query(request, "after", -1, low=-1, high=2**31)
    sequence = await collection_or_404(request.app, entity, project, name)
    page = await request.app[ARTIFACTS].versions_page(sequence["_id"], after=after, limit=limit + 1)
    more = len(page) > limit
    page = page[:limit]
    return web.json_response(
        {
            "versions": await describe_versions(request.app, sequence["_id"], page),
            "next": str(page[-1]["version_index"]) if more else None,
        }
    )


@routes.get(ARTIFACT_URL + "/versions/{ref}")
async def get_version(request: web.Request) -> web.Response:
    entity, project = _scope(request)
    name = path_param(request, "name", check_artifact_name)
    try:
        wanted = parse_ref(request.match_info["ref"])
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    sequence = await collection_or_404(request.app, entity, project, name)
    artifacts = request.app[ARTIFACTS]
    if isinstance(wanted, str):
        index = (await artifacts.aliases([sequence["_id"]]))[sequence["_id"]].get(wanted)
        if index is None:
            raise not_found(f"artifact {name!r} in {entity}/{project} has no alias {wanted!r}")
    else:
        index = wanted
    version = await artifacts.version(sequence["_id"], index)
    if version is None:
        raise not_found(
            f"artifact {name!r} in {entity}/{project} has no version {version_label(index)}"
        )
    described = await describe_versions(request.app, sequence["_id"], [version])
    return web.json_response(described[0])


def _int_query(request: web.Request, key: str, default: int, *, low: int, high: int) -> int:
    raw = request.query.get(key, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{key} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise bad_request(f"{key} must be between {low} and {high}")
    return value
