"""Whatever a file holds, the check returns findings: it never raises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from relgate.migrations.checks import check_text

FRAGMENTS = [
    "ALTER TABLE t ",
    "DROP COLUMN c",
    "ADD COLUMN c int NOT NULL DEFAULT random()",
    "CREATE INDEX CONCURRENTLY i ON t (a)",
    "BEGIN;",
    "COMMIT;",
    ";",
    "\n",
    "-- relgate:ignore drop-column x\n",
    "-- relgate:contract after=1.0.0\n",
    "-- relgate:contract after=\n",
    "/* ",
    " */",
    "'",
    "$$",
    "é€",
    "op.drop_column('t', 'c')\n",
    "def upgrade():\n    ",
    'op.execute("',
    '")\n',
    "with op.batch_alter_table('t') as b:\n        b.",
    "# relgate:ignore\n",
]

sources = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(text=sources, python=st.booleans())
def test_any_text_gives_findings_not_an_exception(text: str, python: bool) -> None:
    result = check_text(text, "m.py" if python else "m.sql")

    assert result.file.path == ("m.py" if python else "m.sql")
    for finding in result.findings + result.suppressed:
        assert finding.line >= 1
