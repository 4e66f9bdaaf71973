"""The postgres provider: tenant roles, databases, schemas, grants and extensions on a Postgres
server, read back in bulk from the catalogs and changed with statements built by `psycopg.sql`."""

from providers.postgres.provider import PostgresProvider

__all__ = ["PostgresProvider"]
