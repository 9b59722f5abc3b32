"""Database per service: each service instance opens its own SQLite database.

A :class:`ServiceDatabase` is the database one service owns. It knows its
owner, the tables that service declared (a SQLAlchemy ``MetaData``: each
service's code keeps its own, so two services never share a table
definition by accident) and where the data lives:

- no ``url`` and no ``directory``: an in-memory SQLite database private to
  the instance (one connection shared through a ``StaticPool``, so every
  session sees the same data); it is gone when the instance stops;
- ``directory``: the file ``<directory>/<owner>.db``, which survives a
  restart and which the instances of one service may share;
- ``url``: any SQLAlchemy URL (the shared-database anti-pattern points two
  services at the same one).

The engine is created in the app's lifespan (:meth:`ServiceDatabase.lifespan`)
and disposed on shutdown, the way a real service opens its connection pool
when it starts. :func:`data_service` builds a labsvc service around one.

Handlers are ``async def`` and call SQLite synchronously: a local SQLite
statement takes microseconds, and a handler that does not ``await`` between
reading and writing runs as one step of the event loop. Production services
use an async driver or a thread pool; the SQL is the same.
"""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pandas as pd
import sqlalchemy as sa
from fastapi import FastAPI, Request
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from labsvc.core.errors import ConfigurationError, LabsvcError
from labsvc.core.problems import problem_response, problem_type
from labsvc.core.service import create_service

__all__ = [
    "ServiceDatabase",
    "DatabaseNotOpenError",
    "service_database",
    "data_service",
    "install_database_errors",
    "describe_databases",
    "IN_MEMORY",
]

#: The URL of a private in-memory SQLite database.
IN_MEMORY = "sqlite://"

_OWNER = re.compile(r"^[a-z][a-z0-9-]*$")


class DatabaseNotOpenError(LabsvcError, RuntimeError):
    """The database is used while its service is not running (its engine is closed)."""


class ServiceDatabase:
    """The database one service owns, opened and closed with the service.

    >>> from sqlmodel import Field, SQLModel
    >>> from sqlalchemy.orm import registry
    >>> class Base(SQLModel, registry=registry()):   # this service's own tables
    ...     pass
    >>> class Note(Base, table=True):
    ...     id: int | None = Field(default=None, primary_key=True)
    ...     text: str
    >>> db = ServiceDatabase("notes", Base.metadata)
    >>> db.open()
    >>> with db.session() as s:
    ...     s.add(Note(text="hello")); s.commit()
    >>> db.table("note")["text"].tolist()
    ['hello']
    >>> db.close()
    """

    def __init__(
        self,
        owner: str,
        metadata: sa.MetaData,
        *,
        url: str | None = None,
        directory: str | Path | None = None,
        setup: Callable[["ServiceDatabase"], None] | None = None,
        echo: bool = False,
    ) -> None:
        if not isinstance(owner, str) or not _OWNER.match(owner):
            raise ConfigurationError(
                f"owner={owner!r} must name the service that owns the database, e.g. 'orders' "
                f"(lower-case letters, digits and hyphens)"
            )
        if not isinstance(metadata, sa.MetaData):
            raise ConfigurationError(
                f"metadata must be the service's SQLAlchemy MetaData (e.g. MyBase.metadata), got {type(metadata).__name__}"
            )
        if url is not None and directory is not None:
            raise ConfigurationError("give either url= or directory=, not both")
        if directory is not None:
            url = f"sqlite:///{Path(directory) / f'{owner}.db'}"
        self.owner = owner
        self.metadata = metadata
        self.url = url or IN_MEMORY
        self.setup = setup
        self.echo = echo
        self._engine: Engine | None = None
        self.opened = 0  # how many times an engine was created (one per start)

    @property
    def in_memory(self) -> bool:
        """True when the data lives only in this instance's memory."""
        return self.url in (IN_MEMORY, "sqlite:///:memory:")

    @property
    def engine(self) -> Engine:
        """The open engine (:class:`DatabaseNotOpenError` while the service is stopped)."""
        if self._engine is None:
            raise DatabaseNotOpenError(
                f"the database of {self.owner!r} is not open: it opens when the service starts "
                f"(add the service to a network and start it, or call db.open())"
            )
        return self._engine

    @property
    def is_open(self) -> bool:
        """True while the engine exists (between start and stop)."""
        return self._engine is not None

    def open(self) -> None:
        """Create the engine and the service's tables, then run ``setup`` (idempotent)."""
        if self._engine is not None:
            return
        if self.in_memory:
            # One connection for the whole engine: an in-memory SQLite database
            # lives and dies with its connection.
            engine = sa.create_engine(self.url, echo=self.echo, poolclass=StaticPool,
                                      connect_args={"check_same_thread": False})
        else:
            engine = sa.create_engine(self.url, echo=self.echo, connect_args={"check_same_thread": False})
        self.metadata.create_all(engine)
        self._engine = engine
        self.opened += 1
        if self.setup is not None:
            try:
                self.setup(self)
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        """Dispose of the engine (its connections close; an in-memory database is gone)."""
        if self._engine is not None:
            engine, self._engine = self._engine, None
            engine.dispose()

    def session(self) -> Session:
        """A new SQLModel session; use it in a ``with`` block and commit what you change."""
        return Session(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """Open on startup, close on shutdown: pass as ``create_service(..., lifespan=db.lifespan)``."""
        self.open()
        try:
            yield
        finally:
            self.close()

    def tables(self) -> list[str]:
        """Names of the tables in the database as it is now (not as the code declares them)."""
        return sorted(sa.inspect(self.engine).get_table_names())

    def columns(self, table: str) -> list[str]:
        """Names of the columns of ``table`` as the database has them now."""
        return [c["name"] for c in sa.inspect(self.engine).get_columns(table)]

    def table(self, name: str) -> pd.DataFrame:
        """Every row of table ``name`` as a DataFrame: the operator's view, for looking, not for other services."""
        if name not in self.tables():
            raise ConfigurationError(f"{self.owner!r} has no table {name!r}; its tables are {self.tables()}")
        with self.engine.connect() as conn:
            result = conn.execute(sa.text(f'SELECT * FROM "{name}"'))
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def __repr__(self) -> str:
        where = "in memory" if self.in_memory else self.url
        state = "open" if self.is_open else "closed"
        return f"<ServiceDatabase {self.owner!r} {where} {state}>"


def service_database(
    owner: str,
    metadata: sa.MetaData,
    *,
    url: str | None = None,
    directory: str | Path | None = None,
    setup: Callable[[ServiceDatabase], None] | None = None,
) -> ServiceDatabase:
    """The database of service ``owner``: in memory by default, ``<directory>/<owner>.db`` with ``directory``.

    Call it inside a service factory so that every instance gets its own
    (see :func:`data_service`). ``setup(db)`` runs after the tables are
    created on every start: seed data, or a schema migration.
    """
    return ServiceDatabase(owner, metadata, url=url, directory=directory, setup=setup)


def install_database_errors(app: FastAPI) -> None:
    """Answer a database error with a 500 problem document that names the SQL error.

    The problem has ``type`` ``urn:labsvc:problem:database-error`` and the
    extension members ``error_class`` (e.g. ``"OperationalError"``) and
    ``sql_error`` (the driver's message). A production service would log the
    message and keep it from its callers; the course shows it to learn from.
    """

    async def database_error(request: Request, exc: Exception) -> Any:
        orig = getattr(exc, "orig", None)
        message = str(orig) if orig is not None else str(exc).splitlines()[0]
        service = getattr(app.state, "service_name", "the service")
        return problem_response(
            500, "Database error", type=problem_type("database-error"),
            detail=f"{service} failed to run its SQL: {type(exc).__name__}: {message}",
            instance=request.url.path, error_class=type(exc).__name__, sql_error=message,
        )

    app.add_exception_handler(sa.exc.SQLAlchemyError, database_error)


def data_service(name: str, database: ServiceDatabase, **kwargs: Any) -> FastAPI:
    """A labsvc service (:func:`labsvc.create_service`) that owns ``database``.

    The database opens in the app's lifespan and closes on shutdown; SQL
    errors become 500 problem documents (:func:`install_database_errors`);
    ``app.state.database`` lets an operator look inside
    (:func:`describe_databases`).
    """
    if "lifespan" in kwargs:
        raise ConfigurationError("data_service opens the database in its own lifespan; pass setup= to service_database instead")
    app = create_service(name, lifespan=database.lifespan, **kwargs)
    app.state.database = database
    install_database_errors(app)
    return app


def describe_databases(net: Any) -> pd.DataFrame:
    """One row per service instance of ``net``: the database it owns, where it lives and its tables.

    An operator's view (it reads each app's ``state``); services themselves
    never look at each other's databases.
    """
    rows = []
    for service in net.services.values():
        for inst in service.instances:
            db = getattr(getattr(inst.app, "state", None), "database", None)
            if db is None:
                rows.append({"service": service.name, "instance": inst.name, "database": None,
                             "where": "", "tables": "", "open": False})
                continue
            rows.append({
                "service": service.name, "instance": inst.name, "database": db.owner,
                "where": "in memory" if db.in_memory else db.url.removeprefix("sqlite:///"),
                "tables": ", ".join(db.tables()) if db.is_open else "", "open": db.is_open,
            })
    return pd.DataFrame(rows, columns=["service", "instance", "database", "where", "tables", "open"])
