"""Create the PostgreSQL databases a production deployment needs (Dagster's, MLflow's) when they are missing.

    python -m mlops_assets.pgdb postgresql+psycopg2://user:password@host:5432/dagster [URL ...]

Used by `make prod-home` and `make mlflow-server`; the server's maintenance database ``postgres`` is where
``CREATE DATABASE`` runs. The passwords stay in the URLs given (environment), never printed.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit, urlunsplit


def split_database(url: str) -> tuple[str, str]:
    """``(libpq URL of the server's maintenance database, database name)`` of a SQLAlchemy or libpq URL.

    >>> split_database("postgresql+psycopg2://u:p@db:5432/dagster")
    ('postgresql://u:p@db:5432/postgres', 'dagster')
    """
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    name = parts.path.lstrip("/")
    if scheme not in ("postgresql", "postgres") or not name or "/" in name:
        raise ValueError(f"not a PostgreSQL database URL (postgresql[+psycopg2]://user:password@host:port/name): "
                         f"{urlunsplit(parts._replace(netloc=parts.hostname or ''))}")
    return urlunsplit(parts._replace(scheme="postgresql", path="/postgres")), name


def ensure_database(url: str) -> bool:
    """Create the database of `url` unless it exists; True when it was created."""
    import psycopg2
    from psycopg2 import sql

    server, name = split_database(url)
    conn = psycopg2.connect(server, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                return False
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    urls = sys.argv[1:] if argv is None else argv
    if not urls:
        print("usage: python -m mlops_assets.pgdb URL [URL ...]", file=sys.stderr)
        return 2
    for url in urls:
        try:
            created = ensure_database(url)
        except ValueError as err:
            print(err, file=sys.stderr)
            return 2
        except Exception as err:  # psycopg2.OperationalError and the like: say what to check
            print(f"cannot reach PostgreSQL for {split_database(url)[1]!r}: {err}".strip()
                  + "\nIs the server up (make services) and are the URL's user and password right?", file=sys.stderr)
            return 1
        print(f"database {split_database(url)[1]}: {'created' if created else 'exists'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
