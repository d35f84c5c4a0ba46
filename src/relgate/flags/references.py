"""Find where code refers to feature flags: the key passed to an SDK call, with file and line.

A reference is a flag key given to a flag SDK's call (``is_enabled``,
``isEnabled``, ``get_variant``, OpenFeature's ``get_boolean_value``,
``getStringValue``...) through any receiver. A string that merely equals a flag
key somewhere else (a log line, a comment, a docstring) is not a reference.

- Python is read with ``ast``: the key is the call's first positional argument
  or its ``key=``/``flag_key=``/``feature_name=`` keyword, given as a string
  literal or a constant (``Flags.NEW_CHECKOUT.value`` of an ``Enum`` too). A
  file ``ast`` cannot parse is read like any other source file.
- Other source files (JavaScript, TypeScript, Go, Java, Kotlin, C#, Ruby,
  PHP, Swift, Rust...) are read with regular expressions for the same call
  names followed by a string literal (or a constant) as the first
  argument. Go's OpenFeature calls take a ``context.Context`` first, so one
  identifier argument before the key is allowed for them. Comments are not
  told apart from code there.
- A constant is resolved through the aliases, then the constants of the same
  file, then those of every file searched when the project gives the name one
  value (a bare name from another file must be ``UPPER_SNAKE_CASE``; a member
  access such as ``Flags.newNav`` may use any case).
- ``ReferenceRules`` adds a project's own regular expressions (the key is the
  group named ``key``, else group 1) and aliases: a wrapper function treated
  like ``is_enabled``, or a constant name standing for a flag key.

``find_references`` walks folders, skipping version-control, dependency,
virtual-environment, vendored and build folders, and ``exclude`` globs.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from relgate.errors import BadInput

FLAG_KEY: Final = re.compile(r"^[A-Za-z0-9._-]{1,100}\Z")

PYTHON_CALLS: Final = frozenset(
    {
        # relgate.sdk and UnleashClient
        "is_enabled",
        "variant",
        "get_variant",
        # OpenFeature's Python SDK
        *(
            f"get_{kind}_{what}"
            for kind in ("boolean", "string", "integer", "float", "object")
            for what in ("value", "details")
        ),
        # code that also talks to a JavaScript-style client (e.g. through a bridge)
        "isEnabled",
        "getVariant",
    }
)

_OPENFEATURE_KINDS: Final = ("Boolean", "String", "Number", "Integer", "Double", "Float", "Object")

TEXT_CALLS: Final = frozenset(
    {
        *PYTHON_CALLS,
        # Unleash SDKs: JavaScript, Java, Kotlin, PHP, Swift; Go and .NET; React; Ruby
        "IsEnabled",
        "GetVariant",
        "useFlag",
        "useVariant",
        "is_enabled?",
        "enabled?",
        # OpenFeature: JavaScript, Java, Kotlin, PHP; .NET (Async); Ruby
        *(f"get{kind}{what}" for kind in _OPENFEATURE_KINDS for what in ("Value", "Details")),
        *(f"Get{kind}{what}Async" for kind in _OPENFEATURE_KINDS for what in ("Value", "Details")),
        *(
            f"fetch_{kind}_{what}"
            for kind in ("boolean", "string", "number", "integer", "float", "object")
            for what in ("value", "details")
        ),
        *(f"use{kind}FlagValue" for kind in ("Boolean", "String", "Number", "Object")),
        *(f"use{kind}FlagDetails" for kind in ("Boolean", "String", "Number", "Object")),
    }
)

# Go's OpenFeature client: client.BooleanValue(ctx, "flag", false, evalCtx)
GO_CONTEXT_FIRST_CALLS: Final = frozenset(
    f"{kind}{what}"
    for kind in ("Boolean", "String", "Int", "Float", "Object")
    for what in ("Value", "ValueDetails")
)

KEY_KEYWORDS: Final = ("key", "flag_key", "flagKey", "feature_name", "featureName", "flag_name")

PYTHON_SUFFIXES: Final = frozenset({".py", ".pyi"})
TEXT_SUFFIXES: Final = frozenset(
    {
        ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".vue", ".svelte",
        ".go", ".java", ".kt", ".kts", ".scala", ".groovy", ".cs", ".fs", ".vb",
        ".rb", ".erb", ".rake", ".php", ".swift", ".rs", ".dart", ".ex", ".exs", ".erl",
        ".c", ".cc", ".cpp", ".h", ".hpp", ".m", ".mm", ".lua", ".pl", ".r", ".jl",
        ".html", ".htm", ".jinja", ".j2", ".hbs",
    }
)  # fmt: skip

SKIPPED_DIRS: Final = frozenset(
    {
        ".git", ".hg", ".svn", ".bzr",
        "node_modules", "bower_components", "jspm_packages",
        ".venv", "venv", ".env", "env", ".tox", ".nox", "site-packages", "__pypackages__",
        "vendor", "vendored", "_vendor", "third_party", "third-party", "Godeps",
        "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis",
        ".next", ".nuxt", ".svelte-kit", ".gradle", ".idea", ".terraform",
        "dist", "build", "target", "coverage", "htmlcov",
    }
)  # fmt: skip

# Bigger files are generated bundles or data, not code a person maintains.
MAX_FILE_BYTES: Final = 2_000_000


@dataclass(frozen=True, order=True)
class Reference:
    """One place where code refers to flag ``key``: ``path`` (as shown), 1-based line and column."""

    path: str
    line: int
    column: int
    key: str

    @property
    def location(self) -> str:
        """Return ``path:line``, the form editors and CI logs link."""
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class ReferenceRules:
    """What counts as a reference, beyond the SDK calls relgate knows.

    ``wrappers`` are function names treated like ``is_enabled``; ``constants``
    map a constant's name to the flag key it stands for; ``patterns`` are
    compiled regular expressions whose ``key`` group (else group 1) is a key;
    ``exclude`` are globs of paths (relative to the folder searched) or of
    file and folder names that are not searched.
    """

    wrappers: frozenset[str] = frozenset()
    constants: Mapping[str, str] = field(default_factory=dict)
    patterns: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def from_config(
        cls,
        *,
        patterns: Sequence[str] = (),
        aliases: Mapping[str, str] | None = None,
        exclude: Sequence[str] = (),
    ) -> ReferenceRules:
        """Return rules from relgate.yaml's ``flags.lint`` values.

        An alias whose value is a known SDK call name (``is_enabled``,
        ``getVariant``...) makes its name a wrapper; any other alias maps a
        constant to a flag key. Raises BadInput naming the entry when a
        pattern is not a regular expression or has no group, or when an
        alias's value is neither a call name nor a flag key.
        """
        wrappers: set[str] = set()
        constants: dict[str, str] = {}
        for name, value in (aliases or {}).items():
            if value in TEXT_CALLS or value in GO_CONTEXT_FIRST_CALLS:
                wrappers.add(name)
            elif FLAG_KEY.match(value):
                constants[name] = value
            else:
                raise BadInput(
                    f"flags.lint.aliases.{name}: {value!r} is neither an SDK call name "
                    "(e.g. is_enabled) nor a flag key (letters, digits, '-', '_', '.')"
                )
        compiled = tuple(compile_pattern(text, f"flags.lint.patterns[{i}]") for i, text in
                         enumerate(patterns))  # fmt: skip
        return cls(frozenset(wrappers), constants, compiled, tuple(exclude))


def compile_pattern(text: str, where: str = "pattern") -> re.Pattern[str]:
    """Return ``text`` compiled (multi-line); its group ``key``, else group 1, is the flag key.

    Raises BadInput naming ``where`` when it does not compile or has no group.
    """
    try:
        pattern = re.compile(text, re.MULTILINE)
    except re.error as exc:
        raise BadInput(f"{where}: {text!r} is not a regular expression: {exc}") from None
    if pattern.groups < 1:
        raise BadInput(
            f"{where}: {text!r} needs a group around the flag key, e.g. flag\\('(.+?)'\\)"
        )
    return pattern


# ---------------------------------------------------------------------------
# Constants that stand for flag keys

# UPPER_SNAKE_CASE: a bare name from another file is trusted only when it looks like a constant
_CONSTANT_NAME: Final = re.compile(r"^[A-Z][A-Z0-9_]*\Z")


@dataclass(frozen=True)
class _Constants:
    """Resolves a constant's name to a flag key: aliases, then this file's, then the project's."""

    aliases: Mapping[str, str]
    local: Mapping[str, str]
    shared: Mapping[str, str]

    def resolve(self, parts: Sequence[str]) -> str | None:
        name = parts[-1]
        for table in (self.aliases, self.local):
            if name in table:
                return table[name]
        # `Flags.newNav` names a member; a bare lowercase name is more likely a variable
        if name in self.shared and (len(parts) > 1 or _CONSTANT_NAME.match(name)):
            return self.shared[name]
        return None


def _unambiguous(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, set[str]] = {}
    for name, value in pairs:
        values.setdefault(name, set()).add(value)
    return {name: next(iter(found)) for name, found in values.items() if len(found) == 1}


# ---------------------------------------------------------------------------
# Python


class _PythonVisitor(ast.NodeVisitor):
    def __init__(self, path: str, calls: frozenset[str], constants: _Constants) -> None:
        self.path = path
        self.calls = calls
        self.constants = constants
        self.found: list[Reference] = []

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else None
        if isinstance(func, ast.Attribute):
            name = func.attr
        if name in self.calls:
            argument = _key_argument(node)
            key = None if argument is None else self._key(argument)
            if argument is not None and key is not None:
                self.found.append(
                    Reference(self.path, argument.lineno, argument.col_offset + 1, key)
                )
        self.generic_visit(node)

    def _key(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant):
            return (
                node.value if isinstance(node.value, str) and FLAG_KEY.match(node.value) else None
            )
        if isinstance(node, ast.Attribute) and node.attr == "value":
            # an Enum member's value: Flags.NEW_CHECKOUT.value
            resolved = self._key(node.value)
            if resolved is not None:
                return resolved
        if isinstance(node, ast.Name):
            return self.constants.resolve([node.id])
        if isinstance(node, ast.Attribute):
            return self.constants.resolve(["", node.attr])
        return None


def _key_argument(node: ast.Call) -> ast.expr | None:
    if node.args:
        first = node.args[0]
        return None if isinstance(first, ast.Starred) else first
    for keyword in node.keywords:
        if keyword.arg in KEY_KEYWORDS:
            return keyword.value
    return None


def _python_constants(tree: ast.Module) -> dict[str, str]:
    """Return the module- and class-level ``NAME = "flag-key"`` assignments of a module."""
    constants: list[tuple[str, str]] = []
    bodies: list[list[ast.stmt]] = [tree.body]
    while bodies:
        for statement in bodies.pop():
            if isinstance(statement, ast.ClassDef):
                bodies.append(statement.body)
                continue
            target: ast.expr | None = None
            value: ast.expr | None = None
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target, value = statement.targets[0], statement.value
            elif isinstance(statement, ast.AnnAssign):
                target, value = statement.target, statement.value
            if (
                isinstance(target, ast.Name)
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and FLAG_KEY.match(value.value)
            ):
                constants.append((target.id, value.value))
    return _unambiguous(constants)


@functools.lru_cache(maxsize=8)
def _call_hint(calls: frozenset[str]) -> re.Pattern[str]:
    names = "|".join(re.escape(name) for name in sorted(calls))
    return re.compile(rf"(?<![\w$])(?:{names})\s*\(")


def _parse(source: str, path: str) -> ast.Module | None:
    try:
        return ast.parse(source, filename=path)
    except (SyntaxError, ValueError):
        return None


def python_references(
    source: str,
    path: str,
    rules: ReferenceRules | None = None,
    *,
    shared_constants: Mapping[str, str] | None = None,
) -> list[Reference] | None:
    """Return the flag references in Python ``source`` shown as ``path``, in source order.

    ``shared_constants`` are the project's constants (``defined_constants``
    of every file, where unambiguous). Returns None when ``source`` calls a
    flag SDK but is not Python that ``ast`` can parse (the caller then reads
    it as text). Never raises for bad source.
    """
    rules = rules or ReferenceRules()
    calls = PYTHON_CALLS | rules.wrappers
    if not _call_hint(calls).search(source):
        # parsing is most of the cost, and most files call no flag SDK at all
        return sorted(set(_pattern_references(source, path, rules)))
    tree = _parse(source, path)
    if tree is None:
        return None
    constants = _Constants(rules.constants, _python_constants(tree), shared_constants or {})
    visitor = _PythonVisitor(path, calls, constants)
    visitor.visit(tree)
    return sorted(set(visitor.found) | set(_pattern_references(source, path, rules)))


# ---------------------------------------------------------------------------
# Other languages

_STRING = r"""(?:"(?P<dq>[^"\\\n]*)"|'(?P<sq>[^'\\\n]*)'|`(?P<bq>[^`\\$]*)`)"""
_KEYWORD = r"(?:(?:" + "|".join((*KEY_KEYWORDS, "name")) + r")\s*[:=]\s*)?"
_GENERIC = r"(?:<[^<>()\n]*>)?"  # getBooleanValue<boolean>(...)
_CONSTANT = r"(?P<const>(?:[A-Za-z_$][\w$]*(?:\.|::|->))*[A-Za-z_$][\w$]*)"


def _call_regex(
    names: Iterable[str], *, context_first: bool = False, bare: bool = False
) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    skip = r"[A-Za-z_][\w.]*(?:\(\))?\s*,\s*" if context_first else ""
    # Ruby may leave the parentheses out: UNLEASH.is_enabled? "flag", context
    opening = r"(?:\(\s*|[ \t]+)" if bare else r"\s*\(\s*"
    return re.compile(
        rf"(?<![\w$?!])(?:{alternatives})(?![\w$?!]){_GENERIC}{opening}{skip}{_KEYWORD}"
        rf"(?:{_STRING}|{_CONSTANT}\s*[,)])"
    )


_TEXT_CALL_REGEX: Final = _call_regex(TEXT_CALLS)
_GO_CALL_REGEX: Final = _call_regex(GO_CONTEXT_FIRST_CALLS, context_first=True)
_RUBY_BARE_REGEX: Final = _call_regex(
    {name for name in TEXT_CALLS if name.endswith("?") or name.startswith("fetch_")}, bare=True
)
RUBY_SUFFIXES: Final = frozenset({".rb", ".erb", ".rake"})


def _line_starts(source: str) -> list[int]:
    starts = [0]
    starts.extend(match.end() for match in re.finditer(r"\n", source))
    return starts


def _position(starts: list[int], offset: int) -> tuple[int, int]:
    import bisect

    index = bisect.bisect_right(starts, offset) - 1
    return index + 1, offset - starts[index] + 1


def _pattern_references(source: str, path: str, rules: ReferenceRules) -> list[Reference]:
    found: list[Reference] = []
    if not rules.patterns:
        return found
    starts = _line_starts(source)
    for pattern in rules.patterns:
        for match in pattern.finditer(source):
            group: int | str = "key" if "key" in pattern.groupindex else 1
            key = match.group(group)
            if key is None or not FLAG_KEY.match(key):
                continue
            line, column = _position(starts, match.start(group))
            found.append(Reference(path, line, column, key))
    return found


# NAME = "key" / NAME: "key" / const NAME: &str = "key": JavaScript, TypeScript, Java, Kotlin,
# Go, C#, Ruby, PHP, Swift, Rust constants and object or enum members
_TEXT_CONSTANT: Final = re.compile(
    r"(?<![\w$.])(?P<name>[A-Za-z_$][\w$]*)\s*(?::\s*[^=:\n;,{}()\"'`]{1,60})?(?:=|:)\s*"
    r"(?P<q>[\"'`])(?P<value>[A-Za-z0-9._-]{1,100})(?P=q)"
)


# NAME = "key" or NAME: str = "key" on a line of its own (module, class or Enum level)
_PYTHON_CONSTANT: Final = re.compile(
    r"^[ \t]*(?P<name>[A-Za-z_]\w*)[ \t]*(?::[^=\n]{1,60})?=[ \t]*"
    r"(?P<q>[\"'])(?P<value>[A-Za-z0-9._-]{1,100})(?P=q)[ \t]*(?:#.*)?$",
    re.MULTILINE,
)


def _text_constants(source: str) -> dict[str, str]:
    return _unambiguous(
        (match.group("name"), match.group("value")) for match in _TEXT_CONSTANT.finditer(source)
    )


def defined_constants(source: str, path: str) -> dict[str, str]:
    """Return the constants of one file whose value could be a flag key, name to value.

    Python: ``NAME = "value"`` lines; other files: ``NAME = "value"`` and
    ``NAME: "value"`` forms. A name given two values is left out. Never raises.
    """
    if os.path.splitext(path)[1].lower() in PYTHON_SUFFIXES:
        # a line-based reading instead of ast: this pass reads every file of the project
        return _unambiguous(
            (match.group("name"), match.group("value"))
            for match in _PYTHON_CONSTANT.finditer(source)
        )
    return _text_constants(source)


def text_references(
    source: str,
    path: str,
    rules: ReferenceRules | None = None,
    *,
    shared_constants: Mapping[str, str] | None = None,
) -> list[Reference]:
    """Return the flag references in non-Python ``source`` shown as ``path``, in source order.

    Finds SDK calls (and ``rules.wrappers``) whose first argument is a string
    literal that is a valid flag key, or a constant (an alias of
    ``rules.constants``, one of this file, or of ``shared_constants``), and
    the matches of ``rules.patterns``. Never raises.
    """
    rules = rules or ReferenceRules()
    constants = _Constants(rules.constants, _text_constants(source), shared_constants or {})
    regexes = [_TEXT_CALL_REGEX, _GO_CALL_REGEX]
    if os.path.splitext(path)[1].lower() in RUBY_SUFFIXES:
        regexes.append(_RUBY_BARE_REGEX)
    if rules.wrappers:
        regexes.append(_call_regex(rules.wrappers, bare=path.endswith(tuple(RUBY_SUFFIXES))))
    starts = _line_starts(source)
    found: set[Reference] = set(_pattern_references(source, path, rules))
    for regex in regexes:
        for match in regex.finditer(source):
            group = next((g for g in ("dq", "sq", "bq") if match.group(g) is not None), None)
            if group is not None:
                key: str | None = match.group(group)
                if key is None or not FLAG_KEY.match(key):
                    continue
            else:
                group = "const"
                name = match.group("const")
                key = constants.resolve(re.split(r"\.|::|->", name))
                if key is None:
                    continue
            # like Python's ast: a string literal's column is its opening quote's
            start = match.start(group) - (0 if group == "const" else 1)
            line, column = _position(starts, start)
            found.add(Reference(path, line, column, key))
    return sorted(found)


# ---------------------------------------------------------------------------
# Files and folders


def _excluded(relative: str, name: str, exclude: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(relative, glob) or fnmatch.fnmatch(name, glob) for glob in exclude)


def _read(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def file_references(
    path: Path,
    shown: str,
    rules: ReferenceRules,
    *,
    shared_constants: Mapping[str, str] | None = None,
) -> list[Reference]:
    """Return the references in one file (empty for an unreadable, binary or huge file)."""
    source = _read(path)
    if source is None:
        return []
    if path.suffix.lower() in PYTHON_SUFFIXES:
        found = python_references(source, shown, rules, shared_constants=shared_constants)
        if found is not None:
            return found
    return text_references(source, shown, rules, shared_constants=shared_constants)


def source_files(root: Path, exclude: Sequence[str] = ()) -> Iterator[tuple[Path, str]]:
    """Yield each source file under ``root`` and the path it is shown as, in a stable order.

    A ``root`` that is a file is yielded whatever its suffix. Folders named in
    ``SKIPPED_DIRS``, hidden folders and ``exclude`` matches are skipped;
    symbolic links to folders are not followed.
    """
    if root.is_file():
        yield root, os.path.normpath(root)
        return
    for folder, dirs, files in os.walk(root):
        relative_folder = os.path.relpath(folder, root)
        kept = []
        for name in sorted(dirs):
            relative = os.path.normpath(os.path.join(relative_folder, name)).replace(os.sep, "/")
            if name in SKIPPED_DIRS or name.startswith(".") or _excluded(relative, name, exclude):
                continue
            kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            suffix = os.path.splitext(name)[1].lower()
            if suffix not in PYTHON_SUFFIXES and suffix not in TEXT_SUFFIXES:
                continue
            relative = os.path.normpath(os.path.join(relative_folder, name)).replace(os.sep, "/")
            if _excluded(relative, name, exclude):
                continue
            full = Path(folder) / name
            yield full, os.path.normpath(full)


@dataclass(frozen=True)
class ScanResult:
    """Every reference found, sorted by file, line and column, and how many files were read."""

    references: list[Reference]
    files_scanned: int


def find_references(paths: Sequence[Path], rules: ReferenceRules | None = None) -> ScanResult:
    """Return the flag references in the files and folders ``paths``.

    Two passes: the first gathers the constants every file defines, so that
    ``is_enabled(NEW_CHECKOUT)`` resolves a constant defined in another file
    (when the project gives that name a single value); the second finds the
    references. Raises BadInput naming the path when one does not exist. A
    file given or reached twice is read once.
    """
    rules = rules or ReferenceRules()
    for path in paths:
        if not path.exists():
            raise BadInput(f"{path}: no such file or folder to search for flag references")
    files: dict[Path, tuple[Path, str]] = {}
    for root in paths:
        for path, shown in source_files(root, rules.exclude):
            files.setdefault(path.resolve(), (path, shown))
    pairs: list[tuple[str, str]] = []
    for path, shown in files.values():
        source = _read(path)
        if source is not None:
            pairs.extend(defined_constants(source, shown).items())
    shared = _unambiguous(pairs)
    found: list[Reference] = []
    for path, shown in files.values():
        found.extend(file_references(path, shown, rules, shared_constants=shared))
    return ScanResult(sorted(found), len(files))
