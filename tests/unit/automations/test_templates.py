"""Payload templates: substitution on parsed JSON, typed values, secrets, single pass."""

from __future__ import annotations

import json

import pytest
from cairn_automations.domain.templates import (
    MissingSecretError,
    TemplateError,
    check_secret_name,
    references,
    render,
    render_text,
)

VARIABLES = {
    "event_type": "model.alias.added",
    "alias": "production",
    "artifact_version_index": 3,
    "aliases": ["production", "latest"],
    "artifact_metadata": {"accuracy": 0.93, "dotted.key": "x", "nested": {"a": [1, 2]}},
    "artifact_type": None,
}


def test_a_whole_string_reference_keeps_the_json_type() -> None:
    template = {
        "index": "${artifact_version_index}",
        "aliases": "${aliases}",
        "accuracy": "${artifact_metadata.accuracy}",
        "nested": "${artifact_metadata.nested}",
        "missing": "${artifact_metadata.nope}",
        "type": "${artifact_type}",
    }

    assert render(template, VARIABLES, {}) == {
        "index": 3,
        "aliases": ["production", "latest"],
        "accuracy": 0.93,
        "nested": {"a": [1, 2]},
        "missing": None,
        "type": None,
    }


def test_references_inside_text_take_their_text_form() -> None:
    rendered = render(
        {"text": "${event_type}: ${alias} is v${artifact_version_index} ${aliases} (${alias_x})"},
        {**VARIABLES, "alias_x": None},
        {},
    )

    assert rendered == {
        "text": 'model.alias.added: production is v3 ["production","latest"] ()',
    }


def test_lists_and_nested_objects_are_rendered_and_keys_are_left_alone() -> None:
    template = {"${alias}": [{"deep": ["${alias}", 1, True, None]}]}

    assert render(template, VARIABLES, {}) == {
        "${alias}": [{"deep": ["production", 1, True, None]}]
    }


def test_metadata_keys_with_dots_are_reachable() -> None:
    assert render("${artifact_metadata.dotted.key}", VARIABLES, {}) == "x"


def test_secrets_are_substituted_and_a_missing_one_is_an_error() -> None:
    assert render({"auth": "Bearer ${API_TOKEN}"}, {}, {"API_TOKEN": "s3cr3t"}) == {
        "auth": "Bearer s3cr3t"
    }
    with pytest.raises(MissingSecretError, match="GONE"):
        render({"auth": "${GONE}"}, {}, {})


def test_rendering_is_a_single_pass_so_values_cannot_pull_in_secrets() -> None:
    hostile = {"alias": "${API_TOKEN}", "artifact_metadata": {"k": "$${API_TOKEN}"}}

    rendered = render(
        {"a": "${alias}", "b": "x ${alias}", "c": "${artifact_metadata.k}"},
        hostile,
        {"API_TOKEN": "s3cr3t"},
    )

    assert "s3cr3t" not in json.dumps(rendered)


def test_dollar_dollar_escapes_a_reference() -> None:
    assert render("$${alias} and ${alias}", VARIABLES, {}) == "${alias} and production"
    assert render("$${alias}", VARIABLES, {}) == "${alias}"


def test_references_lists_variables_and_secrets_and_refuses_unknown_names() -> None:
    found = references({"a": ["${alias} ${TOKEN}", {"b": "${artifact_metadata.acc}"}]})

    assert found.variables == {"alias", "artifact_metadata.acc"}
    assert found.secrets == {"TOKEN"}
    assert found.uses_metadata
    with pytest.raises(TemplateError, match=r"unknown variable \$\{artifact_name\}"):
        references({"a": "${artifact_name}"})
    with pytest.raises(TemplateError, match="unknown variable"):
        references("${artifact_metadata.}")


def test_header_templates_may_only_use_secrets() -> None:
    assert references("Bearer ${TOKEN}", secrets_only=True).secrets == {"TOKEN"}
    with pytest.raises(TemplateError, match="only secrets"):
        references("${alias}", secrets_only=True)


def test_templates_have_a_size_limit() -> None:
    with pytest.raises(TemplateError, match="larger"):
        references({"big": "x" * 70_000})


def test_render_text_renders_every_reference_as_text() -> None:
    assert render_text("${artifact_version_index}", VARIABLES, {}) == "3"


@pytest.mark.parametrize("name", ["API_TOKEN", "X", "A1_B2"])
def test_secret_names_are_upper_case(name: str) -> None:
    assert check_secret_name(name) == name


@pytest.mark.parametrize("name", ["api_token", "1ABC", "", "A-B", "A" * 65])
def test_other_secret_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid secret name"):
        check_secret_name(name)
