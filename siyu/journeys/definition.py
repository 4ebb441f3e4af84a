"""Load a journey definition from JSON or YAML text; errors name the offending field."""

from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from siyu.core.errors import InvalidInputError
from siyu.journeys.models import JourneyDefinition

_ADAPTER: TypeAdapter[JourneyDefinition] = TypeAdapter(JourneyDefinition)


def _field_of(error: Any) -> str:
    parts = [str(p) for p in error["loc"]]
    extra = (error.get("ctx") or {}).get("field")
    if extra:
        parts.append(str(extra))
    return ".".join(parts) or "definition"


def parse_definition(data: Any) -> JourneyDefinition:
    """Validate already-parsed data as a definition.

    Raises:
        InvalidInputError: with ``field`` the dotted path of the first problem
            (e.g. ``nodes.2.next``), the message saying what is wrong.
    """
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _field_of(first)
        raise InvalidInputError(f"{field}: {first['msg']}", field=field) from exc


def load_definition(text: str, *, fmt: str = "auto") -> JourneyDefinition:
    """Parse JSON or YAML text (``fmt`` = json | yaml | auto) into a validated definition."""
    if fmt not in ("json", "yaml", "auto"):
        raise InvalidInputError("format is json, yaml or auto", field="format")
    try:
        if fmt == "json" or (fmt == "auto" and text.lstrip().startswith("{")):
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"not valid {fmt}: {exc}", field="definition") from exc
    if not isinstance(data, dict):
        raise InvalidInputError("a definition is a mapping", field="definition")
    return parse_definition(data)


def dump_definition(definition: JourneyDefinition) -> dict[str, Any]:
    """The definition as JSON-ready data (what is stored per version)."""
    return definition.model_dump(mode="json", exclude_defaults=False)
