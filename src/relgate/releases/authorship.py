"""Who wrote a release: the commit's author and its ``Co-authored-by`` trailers (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from relgate import limits
from relgate.errors import BadInput

MAX_NAME = limits.AUTHOR
MAX_EMAIL = limits.EMAIL
MAX_CO_AUTHORS = limits.CO_AUTHORS

# "Co-authored-by: Name <email>", as GitHub and git write it (case-insensitive key)
_CO_AUTHOR = re.compile(
    r"^\s*co-authored-by\s*:\s*(?P<value>.+?)\s*$", re.IGNORECASE | re.MULTILINE
)


@dataclass(frozen=True)
class Person:
    """A name and an email address as git writes them; either may be empty."""

    name: str
    email: str

    def __str__(self) -> str:
        if self.name and self.email:
            return f"{self.name} <{self.email}>"
        return self.name or f"<{self.email}>"

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "email": self.email}


def parse_person(text: str) -> Person:
    """Return the person of ``Name <email>``, ``<email>``, a bare email or a bare name.

    Raises BadInput for an empty text or one longer than a name or email may be.
    """
    stripped = text.strip()
    if not stripped:
        raise BadInput("a co-author is empty: write 'Name <email>'")
    name, email = stripped, ""
    if stripped.endswith(">") and "<" in stripped:
        cut = stripped.rindex("<")
        name, email = stripped[:cut].strip(), stripped[cut + 1 : -1].strip()
    elif "@" in stripped and " " not in stripped:
        name, email = "", stripped
    return check_person(name, email)


def check_person(name: str, email: str) -> Person:
    """Return the person, or raise BadInput naming a field that is too long or malformed."""
    name, email = name.strip(), email.strip()
    if len(name) > MAX_NAME:
        raise BadInput(f"author name {name[:40]!r}...: longer than {MAX_NAME} characters")
    if email and (len(email) > MAX_EMAIL or "@" not in email or any(c.isspace() for c in email)):
        raise BadInput(f"author email {email[:60]!r}: expected an address like name@example.com")
    return Person(name=name, email=email)


def co_authors_in(message: str) -> list[Person]:
    """Return the people of the ``Co-authored-by:`` trailers in a commit message, in order.

    Lines that do not name anybody are skipped; duplicates are kept once.
    """
    found: list[Person] = []
    for match in _CO_AUTHOR.finditer(message):
        try:
            person = parse_person(match["value"])
        except BadInput:
            continue
        if person not in found:
            found.append(person)
    return found[:MAX_CO_AUTHORS]
