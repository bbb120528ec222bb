"""Models, sessions and the SQL the services run (the foundation layer).

Modules:

* :mod:`.base`: Declarative base with a constraint naming convention (set before the first
  migration).
* :mod:`.json_sql`: JSON aggregates that read several rows in one scalar subquery, on both
  databases.
* :mod:`.migrate`: Run the Alembic chain from code (``aadap db …``, tests, ``aadap run``'s
  first start).
* :mod:`.models`: The application's tables.
* :mod:`.session`: Async engine and session factory built from settings.
* :mod:`.types`: Column types that behave the same on SQLite and PostgreSQL.
* :mod:`.repos`: see its own docstring.
"""

__all__ = [
    "base",
    "json_sql",
    "migrate",
    "models",
    "repos",
    "session",
    "types",
]
