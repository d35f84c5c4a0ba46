"""Setting a digest-pinned image in a YAML manifest, comments and layout kept.

The gitops deployer edits one file of a config repository: a kustomization's
``images:`` entry, a Helm values key path or a key path of a plain YAML file.
The edit is a ruamel.yaml round trip: comments, key order, quoting and the
file's own indentation survive, so the commit's diff is the image line(s) and
nothing else. Pure functions over text: no git, no files.
"""

from __future__ import annotations

import copy
import io
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from relgate.deploy.config import GitopsDeployerSpec
from relgate.yaml_layout import guess_indent

MAX_MANIFEST_BYTES = 1024 * 1024
"""A manifest larger than this is refused rather than parsed."""

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}\Z")
_STEP = re.compile(r"([A-Za-z0-9_-]+)((?:\[[^\]]+\])*)")
_SELECTOR = re.compile(r"\[([^\]]+)\]")


class ManifestError(Exception):
    """The manifest cannot take the image (not YAML, a key that holds a list...): says why."""


@dataclass(frozen=True)
class ImageRef:
    """A digest-pinned image reference split the way manifests hold it."""

    name: str
    """The repository without tag or digest, e.g. ``registry.example/payments``."""
    digest: str
    """``sha256:<64 hex>``."""

    @property
    def reference(self) -> str:
        return f"{self.name}@{self.digest}"


def parse_reference(artifact: str) -> ImageRef | None:
    """Return ``artifact`` as an :class:`ImageRef`, or None when it is not pinned by sha256.

    A tag before the digest (``app:1.2@sha256:...``) is dropped: the digest decides.
    """
    name, sep, digest = artifact.partition("@")
    if not sep or not _DIGEST.match(digest) or not name:
        return None
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        last[-1] = last[-1].split(":", 1)[0]
        name = "/".join(last)
    return ImageRef(name=name, digest=digest) if name else None


def set_image(text: str, spec: GitopsDeployerSpec, ref: ImageRef) -> str | None:
    """Return ``text`` with ``ref`` set where ``spec`` says, or None when it is already set.

    Raises ManifestError naming the problem when the text is too large, not one
    YAML document holding a mapping, or a key path leads somewhere else than a value.
    """
    try:
        return _set_image(text, spec, ref)
    except RecursionError:
        # a hostile manifest nested thousands of levels deep
        raise ManifestError(f"{spec.file} is nested too deeply to edit") from None


def _set_image(text: str, spec: GitopsDeployerSpec, ref: ImageRef) -> str | None:
    yaml, data = _load(text, spec.file)
    if spec.format == "kustomize":
        assert spec.image is not None
        changed = _set_kustomize(data, spec.image, ref, spec.file)
    elif spec.key is not None:
        changed = _set_path(data, spec.key, ref.reference, spec.file)
    else:
        assert spec.digest_key is not None
        changed = _set_path(data, spec.digest_key, ref.digest, spec.file)
        if spec.repository_key is not None:
            changed = _set_path(data, spec.repository_key, ref.name, spec.file) or changed
    if not changed:
        return None
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def pins(text: str, spec: GitopsDeployerSpec, ref: ImageRef) -> bool:
    """Whether ``text`` already pins ``ref`` where ``spec`` says; False when it cannot be read."""
    try:
        return set_image(text, spec, ref) is None
    except ManifestError:
        return False


# ------------------------------------------------------------------------------ internals


def _load(text: str, file: str) -> tuple[YAML, CommentedMap]:
    if len(text.encode("utf-8", errors="replace")) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{file} is larger than {MAX_MANIFEST_BYTES // 1024} KiB")
    if _too_deep(text):
        raise ManifestError(f"{file} is nested too deeply to edit")
    yaml = YAML()
    yaml.preserve_quotes = True
    # never re-wrap a long line (a digest-pinned reference is long)
    yaml.width = 1_000_000
    try:
        data = yaml.load(text)
    except YAMLError as exc:
        raise ManifestError(f"{file} is not valid YAML: {_first_line(exc)}") from None
    if not isinstance(data, CommentedMap):
        raise ManifestError(f"{file} must hold a mapping at its top (key: value lines)")
    indent, offset = guess_indent(text)
    yaml.indent(mapping=indent, sequence=offset + 2, offset=offset)
    yaml.explicit_start = text.lstrip().startswith("---")
    return yaml, data


MAX_FLOW_DEPTH = 64
MAX_INDENT = 400


def _too_deep(text: str) -> bool:
    """Whether ``text`` nests deeper than any manifest does (brackets or indentation).

    Checked before parsing: ruamel.yaml takes seconds to fail on a few
    thousand levels, and a hostile file must not hold a deployment that long.
    Brackets inside quoted strings count too, which only errs on the safe side.
    """
    depth = 0
    for char in text:
        if char in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                return True
        elif char in "]}" and depth:
            depth -= 1
    return any(len(line) - len(line.lstrip(" ")) > MAX_INDENT for line in text.splitlines())


def _first_line(exc: YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"line {mark.line + 1}: {problem}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _styled(old: Any, value: str) -> Any:
    """``value`` quoted as the value it replaces was, so the line changes only in the image."""
    if isinstance(old, DoubleQuotedScalarString):
        return DoubleQuotedScalarString(value)
    if isinstance(old, SingleQuotedScalarString):
        return SingleQuotedScalarString(value)
    return value


def _set_key(mapping: Any, key: str, value: str, *, before: str | None = None) -> bool:
    old = mapping.get(key)
    if key in mapping and str(old) == value and isinstance(old, str):
        return False
    if key not in mapping and before is not None and before in mapping:
        # the digest takes the place of the tag it replaces
        mapping.insert(list(mapping).index(before), key, value)
        return True
    mapping[key] = _styled(old, value)
    _shift_comment(mapping, key, len(value) - len(old if isinstance(old, str) else ""))
    return True


def _shift_comment(node: Any, key: Any, delta: int) -> None:
    """Move the comment after ``key``'s value by ``delta`` columns, so its gap stays as it was.

    ruamel.yaml keeps an end-of-line comment at its old column; a longer value
    would push it to one space after the value instead.
    """
    entry = getattr(node, "ca", None) and node.ca.items.get(key)
    if not entry:
        return
    token = entry[2] if isinstance(node, dict) and len(entry) > 2 else entry[0]
    mark = getattr(token, "start_mark", None)
    if isinstance(token, CommentToken) and mark is not None and delta:
        moved = copy.copy(mark)
        moved.column = max(0, mark.column + delta)
        token.start_mark = moved


def _set_kustomize(data: CommentedMap, image: str, ref: ImageRef, file: str) -> bool:
    images = data.get("images")
    if images is None:
        images = CommentedSeq()
        data["images"] = images
    if not isinstance(images, list):
        raise ManifestError(f"{file}: images must be a list of name/newName/digest entries")
    entry = next(
        (item for item in images if isinstance(item, dict) and item.get("name") == image), None
    )
    if entry is None:
        entry = CommentedMap()
        entry["name"] = image
        images.append(entry)
    changed = False
    if "newName" in entry or ref.name != image:
        changed = _set_key(entry, "newName", ref.name) or changed
    changed = _set_key(entry, "digest", ref.digest, before="newTag") or changed
    if "newTag" in entry:
        # a digest pins the image; a tag beside it would only mislead the reader
        del entry["newTag"]
        changed = True
    return changed


def _steps(path: str) -> list[str | int | tuple[str, str]]:
    """``a.b[0].c[name=x]`` -> ["a", "b", 0, "c", ("name", "x")] (validated by the spec)."""
    steps: list[str | int | tuple[str, str]] = []
    for part in path.split("."):
        match = _STEP.fullmatch(part)
        if match is None:
            raise ManifestError(f"{path!r} is not a key path")
        steps.append(match.group(1))
        for selector in _SELECTOR.findall(match.group(2)):
            if selector.isdigit():
                steps.append(int(selector))
            else:
                field, _, wanted = selector.partition("=")
                steps.append((field, wanted))
    return steps


def _set_path(data: CommentedMap, path: str, value: str, file: str) -> bool:
    steps = _steps(path)
    node: Any = data
    walked: list[str] = []
    for index, step in enumerate(steps[:-1]):
        following = steps[index + 1]
        node = _child(node, step, create=isinstance(following, str), path=path, file=file)
        walked.append(_shown(step))
    last = steps[-1]
    where = f"{file}: {path}"
    if isinstance(last, tuple):
        raise ManifestError(f"{where} ends in a list item selector; end it with the key to set")
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise ManifestError(f"{where}: there is no list item [{last}]")
        old = node[last]
        if isinstance(old, dict | list):
            raise ManifestError(f"{where} holds a mapping or a list, not an image")
        if isinstance(old, str) and old == value:
            return False
        node[last] = _styled(old, value)
        _shift_comment(node, last, len(value) - len(old if isinstance(old, str) else ""))
        return True
    if not isinstance(node, dict):
        raise ManifestError(f"{where}: {'.'.join(walked) or 'the top'} is not a mapping")
    old = node.get(last)
    if isinstance(old, dict | list):
        raise ManifestError(f"{where} holds a mapping or a list, not an image")
    return _set_key(node, last, value)


def _shown(step: str | int | tuple[str, str]) -> str:
    if isinstance(step, int):
        return f"[{step}]"
    if isinstance(step, tuple):
        return f"[{step[0]}={step[1]}]"
    return step


def _child(
    node: Any, step: str | int | tuple[str, str], *, create: bool, path: str, file: str
) -> Any:
    where = f"{file}: {path}"
    if isinstance(step, str):
        if not isinstance(node, dict):
            raise ManifestError(f"{where}: {step!r} is looked up in something that is not a map")
        if step not in node or node[step] is None:
            if not create:
                raise ManifestError(f"{where}: there is no list {step!r}")
            node[step] = CommentedMap()
        return node[step]
    if not isinstance(node, list):
        raise ManifestError(f"{where}: {_shown(step)} is looked up in something that is not a list")
    if isinstance(step, int):
        if step >= len(node):
            raise ManifestError(f"{where}: there is no list item [{step}]")
        return node[step]
    field, wanted = step
    for item in node:
        if isinstance(item, dict) and str(item.get(field)) == wanted:
            return item
    raise ManifestError(f"{where}: no list item has {field}: {wanted}")
