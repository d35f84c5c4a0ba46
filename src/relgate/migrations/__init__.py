"""Migration safety: the checks of ``relgate migrations check`` (pure but for reading files).

rules.py (the catalog), state.py (what one file's checks share), sql.py
(pglast), alembic.py (ast), checks.py (files, annotations, the report),
report.py (the report model, also the ``migrations`` evidence), sarif.py.
"""
