"""How a YAML file lays out its blocks, so that a round-trip edit writes them the same way."""

from __future__ import annotations


def guess_indent(text: str) -> tuple[int, int]:
    """Return (mapping indent, sequence dash offset) as the file writes them (2, 0 if unsure).

    The first nested mapping key and the first list under a key decide: the
    dump then writes every block the way the file does.
    """
    mapping: int | None = None
    offset: int | None = None
    parent: int | None = None  # the column of a `key:` line that opens a block
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith(("#", "---", "...")):
            continue
        column = len(raw) - len(raw.lstrip(" "))
        if parent is not None and column >= parent:
            if stripped.startswith("- ") or stripped == "-":
                if offset is None:
                    offset = column - parent
            elif mapping is None and column > parent:
                mapping = column - parent
        if mapping is not None and offset is not None:
            break
        body = stripped[2:].lstrip() if stripped.startswith("- ") else stripped
        content = column + (len(stripped) - len(body))
        opens = body.split(" #", 1)[0].rstrip().endswith(":")
        parent = content if opens else None
    return mapping or 2, offset or 0
