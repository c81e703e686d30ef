"""`python -m northstar experiments apply FILE`: declare many experiments in one JSON or YAML file.

Idempotent: the server stores a new version of a definition only when it differs from the
stored one, so applying the same file twice changes nothing. A bad file changes nothing at
all: every definition is validated locally first, then the whole file is sent in one
request (`PUT /v1/experiments`), which the server checks entirely (metrics, lifecycle rules,
layers) before it stores any; each change made is reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from experiments.definitions import DefinitionError, parse_definition

__all__ = ["ApplyError", "load_document", "load_definitions", "apply_definitions"]


class ApplyError(ValueError):
    """The file cannot be applied; the message names the file, the entry and the field."""


def load_document(path: Path) -> Any:
    """The JSON (or, for `.yaml`/`.yml`, YAML) document of a file; ApplyError names the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ApplyError(f"{path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ApplyError(f"{path}: not UTF-8 text") from None
    return _parse_yaml(path, text) if path.suffix.lower() in (".yaml", ".yml") else _parse_json(path, text)


def load_definitions(path: Path) -> list[dict[str, Any]]:
    """The definitions of a file: a list, ``{"experiments": [...]}``, or one definition."""
    document = load_document(path)
    if isinstance(document, dict) and "experiments" in document:
        document = document["experiments"]
    definitions = document if isinstance(document, list) else [document]
    for index, definition in enumerate(definitions):
        label = f"{path}: experiments[{index}]"
        if not isinstance(definition, dict):
            raise ApplyError(f"{label}: a definition is an object")
        try:
            parse_definition(msgspec.json.encode(definition))
        except (DefinitionError, TypeError) as error:
            raise ApplyError(f"{label} ({definition.get('key', '?')}): {error}") from None
    keys = [definition["key"] for definition in definitions]
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    if duplicated:
        raise ApplyError(f"{path}: experiments defined twice: {', '.join(duplicated)}")
    return definitions


def apply_definitions(
    definitions: list[dict[str, Any]], save_all: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
) -> list[str]:
    """Save all definitions through `save_all` (all or none); one line per experiment (created, updated, unchanged)."""
    lines = []
    for answer in save_all(definitions):
        outcome = "unchanged" if not answer.get("changed", True) else "created" if answer["version"] == 1 else "updated"
        lines.append(f"{outcome:<9}  {answer['key']}  v{answer['version']}  {answer.get('status', '')}".rstrip())
    return lines


def _parse_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise ApplyError(f"{path}: not valid JSON: {error}") from None


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        import yaml  # optional: PyYAML, in the server extra
    except ImportError:
        raise ApplyError(f"{path}: YAML needs PyYAML (pip install pyyaml); JSON files work without it") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ApplyError(f"{path}: not valid YAML: {error}") from None
