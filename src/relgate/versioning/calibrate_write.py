"""Write calibrated rules into relgate.yaml: the ``versioning`` section only, the rest kept.

A ruamel.yaml round trip (as the gitops deployer edits manifests): comments,
key order, quoting and indentation of the file survive; inside ``versioning``
only ``types``, ``dependency_updates`` and ``squash`` change, and the last two
are written only when they differ from the defaults or are already there.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from relgate.errors import BadInput
from relgate.versioning.calibrate import Rules, default_rules
from relgate.yaml_layout import guess_indent

# relgate.yaml is a small file; a larger one is refused rather than parsed.
MAX_CONFIG_BYTES = 1024 * 1024


def write_rules(path: Path, rules: Rules) -> bool:
    """Put ``rules`` into the ``versioning`` section of ``path``; True when the file changed.

    Creates the file (and the section) when missing; the new text is loaded as
    relgate.yaml before it replaces the file. Raises BadInput when the file is
    not YAML, does not hold a mapping, its ``versioning`` is not one, or the
    result would not load.
    """
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if len(text.encode("utf-8", errors="replace")) > MAX_CONFIG_BYTES:
        raise BadInput(f"{path} is larger than {MAX_CONFIG_BYTES // 1024} KiB")
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 1_000_000
    try:
        data = yaml.load(text) if text.strip() else None
    except YAMLError as exc:
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
        raise BadInput(f"{path} is not valid YAML: {problem}") from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise BadInput(f"{path} must hold a mapping at its top (key: value lines)")
    indent, offset = guess_indent(text)
    yaml.indent(mapping=indent, sequence=offset + 2, offset=offset)
    yaml.explicit_start = text.lstrip().startswith("---")
    section = data.get("versioning")
    if section is None:
        section = CommentedMap()
        data["versioning"] = section
    elif not isinstance(section, CommentedMap):
        raise BadInput(f"{path}: versioning must be a mapping (key: value lines)")
    wanted = rules.as_config()
    defaults = default_rules().as_config()
    for key in ("types", "dependency_updates", "squash"):
        if key in section or wanted[key] != defaults[key]:
            _merge(section, key, wanted[key])
    out = io.StringIO()
    yaml.dump(data, out)
    updated = out.getvalue()
    if updated == text:
        return False
    _check(path, updated)
    path.write_text(updated, encoding="utf-8")
    return True


def _check(path: Path, text: str) -> None:
    """Refuse to write ``text`` unless it loads as relgate.yaml (next to ``path``)."""
    from relgate.errors import InvalidConfig
    from relgate.manifest.model import load_manifest

    trial = path.with_name(f".{path.name}.calibrate")
    trial.write_text(text, encoding="utf-8")
    try:
        load_manifest(trial, required=True)
    except InvalidConfig as exc:
        raise BadInput(
            f"{path}: not written, the proposed rules would not load: {exc.message}"
        ) from None
    finally:
        trial.unlink(missing_ok=True)


def _merge(mapping: CommentedMap, key: str, value: Any) -> None:
    """Set ``mapping[key]`` to ``value``; a nested mapping is updated in place (comments kept)."""
    old = mapping.get(key)
    if isinstance(value, dict) and isinstance(old, CommentedMap):
        for name in [name for name in old if name not in value]:
            del old[name]
        for name, item in value.items():
            if old.get(name) != item:
                old[name] = item
        return
    if isinstance(value, dict):
        fresh = CommentedMap()
        fresh.update(value)
        value = fresh
    if old != value:
        mapping[key] = value
