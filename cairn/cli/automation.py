"""``cairn automation``: create, list, test and delete automations; read and redo deliveries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cairn.automations.actions import SendWebhook
from cairn.automations.automation import Automation
from cairn.automations.events import (
    OnAddArtifactAlias,
    OnCreateArtifact,
    OnLinkArtifact,
    OnRemoveArtifactAlias,
    _ArtifactEventInput,
)
from cairn.automations.filters import ArtifactEvent, FilterExpr
from cairn.cli.automation_setup import integration, secret
from cairn.cli.output import friendly, open_api, short_time, table
from cairn.names import ArtifactPath
from cairn.registry.paths import collection_ref

ENTITY = click.option(
    "--entity", "-e", default=None, help="The entity [default: CAIRN_ENTITY or your own]."
)
EVENTS: dict[str, type[_ArtifactEventInput]] = {
    "alias-added": OnAddArtifactAlias,
    "alias-removed": OnRemoveArtifactAlias,
    "linked": OnLinkArtifact,
    "created": OnCreateArtifact,
}


@click.group()
def automation() -> None:
    """Automations: when an event happens in a scope (an alias added to a registered model, a
    version linked or created), send a webhook through an integration."""


automation.add_command(integration)
automation.add_command(secret)


@automation.command(name="ls")
@ENTITY
@friendly
def list_automations(entity: str | None) -> None:
    """List the automations of the entity."""
    with open_api(entity) as api:
        found = list(api.automations(entity=api.default_entity))
    if not found:
        click.echo("No automations.", err=True)
        return
    table(
        ["NAME", "ENABLED", "EVENTS", "SCOPE", "ALIAS PATTERN", "INTEGRATION"],
        [
            [
                a.name,
                "yes" if a.enabled else "no",
                ",".join(a.event.to_dict()["types"]),
                a.scope.describe(),
                a.event.to_dict()["alias_pattern"] or "*",
                a.action.to_dict()["integration"],
            ]
            for a in found
        ],
    )


@automation.command()
@click.argument("name")
@click.option("--on", "on", type=click.Choice(sorted(EVENTS)), required=True, help="The event.")
@click.option("--integration", "-i", required=True, help="The webhook integration to send to.")
@click.option(
    "--registered-model",
    "-m",
    default=None,
    help="Scope: a registered model ('Classifier', 'model-registry/Classifier' or "
    "'wandb-registry-<r>/<name>').",
)
@click.option("--registry", "-r", default=None, help="Scope: a whole registry (e.g. model).")
@click.option("--project", "-p", default=None, help="Scope: a project's artifacts.")
@click.option("--artifact", "-a", default=None, help="Scope: one artifact, PROJECT/NAME.")
@click.option("--alias", default=None, help="Only this exact alias.")
@click.option("--alias-regex", default=None, help="Only aliases matching this regex.")
@click.option("--payload", default=None, help="JSON template, or @file.json [default: the event].")
@click.option("--description", "-d", default="", help="What the automation is for.")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@ENTITY
@friendly
def create(
    *,
    name: str,
    on: str,
    integration: str,
    registered_model: str | None,
    registry: str | None,
    project: str | None,
    artifact: str | None,
    alias: str | None,
    alias_regex: str | None,
    payload: str | None,
    description: str,
    disabled: bool,
    entity: str | None,
) -> None:
    """Create the automation NAME: --on an event, in one scope, sending to --integration.

    Without a scope option it watches the whole entity. Example: cairn automation create deploy
    --on alias-added -m Classifier --alias production -i ci --payload '{"v":
    "${artifact_version_string}"}'
    """
    scope = _scope(registered_model, registry, project, artifact)
    if alias is not None and alias_regex is not None:
        raise click.UsageError("give --alias or --alias-regex, not both")
    condition: FilterExpr | None = None
    if alias is not None:
        condition = ArtifactEvent.alias.eq(alias)
    elif alias_regex is not None:
        condition = ArtifactEvent.alias.matches_regex(alias_regex)
    event = EVENTS[on](scope=scope, filter=condition)
    with open_api(entity) as api:
        action = SendWebhook(
            integration,
            _payload(payload),
            integration_name=integration,
            integration_entity=api.default_entity,
        )
        created = api.create_automation(
            event >> action, name=name, description=description, enabled=not disabled
        )
    click.echo(f"Created automation {created.name!r} in {created.entity} ({_summary(created)}).")


def _scope(
    model: str | None, registry: str | None, project: str | None, artifact: str | None
) -> dict[str, Any] | None:
    given = [o for o in (model, registry, project, artifact) if o is not None]
    if len(given) > 1:
        raise click.UsageError(
            "give one scope: --registered-model, --registry, --project or --artifact"
        )
    if model is not None:
        ref = collection_ref(model, registry)
        return {"type": "registered_model", "registry": ref.registry, "collection": ref.collection}
    if registry is not None:
        return {"type": "registry", "registry": registry.removeprefix("wandb-registry-")}
    if project is not None:
        return {"type": "project", "project": project}
    if artifact is not None:
        path = ArtifactPath.parse(artifact)
        if path.project is None or path.entity is not None or ":" in artifact:
            raise click.BadParameter("use PROJECT/NAME", param_hint="--artifact")
        return {"type": "artifact_collection", "project": path.project, "collection": path.name}
    return None


def _payload(text: str | None) -> Any:
    if text is None:
        return None
    raw = Path(text[1:]).read_text() if text.startswith("@") else text
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--payload") from None


def _summary(a: Automation) -> str:
    event = a.event.to_dict()
    pattern = f" matching {event['alias_pattern']}" if event["alias_pattern"] else ""
    target = a.action.to_dict()["integration"]
    return f"{','.join(event['types'])}{pattern} in {a.scope.describe()} -> {target}"


@automation.command(name="rm")
@click.argument("name")
@ENTITY
@friendly
def remove(name: str, entity: str | None) -> None:
    """Delete the automation NAME (its pending deliveries stop)."""
    with open_api(entity) as api:
        api.delete_automation(name)
    click.echo(f"Deleted automation {name!r}.")


@automation.command(name="test")
@click.argument("name")
@click.option("--event-type", default=None, help="The example event's type [default: its first].")
@ENTITY
@friendly
def test_fire(name: str, event_type: str | None, entity: str | None) -> None:
    """Send an example event through NAME's webhook now and show the answer (nothing stored)."""
    with open_api(entity) as api:
        result = api.test_automation(name, event_type=event_type)
    request, response = result.get("request") or {}, result.get("response")
    click.echo(f"POST {request.get('url', '?')}  (webhook-id {request.get('webhook_id', '?')})")
    click.echo(f"body: {json.dumps(request.get('body'))[:2000]}")
    if response:
        click.echo(f"answer: HTTP {response['status']} in {response.get('latency_ms')} ms")
        click.echo(f"{str(response.get('body') or '')[:2000]}")
    if not result.get("ok"):
        raise click.ClickException(f"the test call failed: {result.get('error') or 'not 2xx'}")


@automation.command()
@click.argument("name", required=False)
@click.option("--status", type=click.Choice(["pending", "delivered", "dead"]), default=None)
@click.option("--limit", "-n", default=20, show_default=True, help="At most this many.")
@click.option("--id", "delivery_id", default=None, help="Show one delivery and its attempts.")
@ENTITY
@friendly
def deliveries(
    name: str | None, status: str | None, limit: int, delivery_id: str | None, entity: str | None
) -> None:
    """List webhook deliveries, newest first (of automation NAME if given)."""
    with open_api(entity) as api:
        if delivery_id is not None:
            _show_delivery(api.delivery(delivery_id))
            return
        rows = []
        for d in api.deliveries(automation=name, status=status):
            rows.append(
                [
                    d["id"],
                    short_time(d["created_at"]),
                    d["automation"]["name"],
                    d["event"]["type"],
                    d["status"],
                    d["attempts"],
                    d.get("last_status") or d.get("last_error") or "",
                ]
            )
            if len(rows) >= limit:
                break
    if not rows:
        click.echo("No deliveries.", err=True)
        return
    table(["ID", "CREATED", "AUTOMATION", "EVENT", "STATUS", "ATTEMPTS", "LAST"], rows)


def _show_delivery(d: dict[str, Any]) -> None:
    click.echo(f"{d['id']}  {d['status']}  {d['automation']['name']}  {d['event']['type']}")
    click.echo(f"  subject: {d['event']['subject']}")
    if d.get("dead_reason"):
        click.echo(f"  dead: {d['dead_reason']}")
    click.echo(f"  payload: {json.dumps(d.get('payload'))[:2000]}")
    table(
        ["#", "ROUND", "AT", "STATUS", "MS", "VERDICT", "ERROR"],
        [
            [
                a["n"],
                a["round"],
                short_time(a["at"]),
                a.get("status") or "",
                a.get("latency_ms"),
                a.get("verdict"),
                a.get("error") or "",
            ]
            for a in d.get("attempt_log", [])
        ],
    )


@automation.command()
@click.argument("delivery_id")
@ENTITY
@friendly
def redeliver(delivery_id: str, entity: str | None) -> None:
    """Send the delivered or dead delivery DELIVERY_ID again (same webhook-id)."""
    with open_api(entity) as api:
        answer = api.redeliver(delivery_id)
    click.echo(
        f"Redelivery of {answer['delivery_id']} requested (webhook-id {answer['webhook_id']})."
    )
