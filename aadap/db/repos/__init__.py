"""Repositories: the SQL of one aggregate per module, and nothing else.

Each function takes the caller's ``AsyncSession`` first and everything else by keyword,
in the manner of the FastAPI template's ``crud`` module. A repository never opens or
commits a transaction: the service that calls it owns the unit of work
(``async with db.transaction() as session``), so one use case can span several
aggregates atomically. No business rule lives here: what a row means is the services'.
"""
