"""Database per service: each instance opens its own database in its lifespan and disposes it on shutdown."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select

from labsvc import Network
from labsvc.data import (
    DatabaseNotOpenError,
    ServiceDatabase,
    customers_app,
    data_service,
    describe_databases,
    orders_app,
    service_database,
)
from labsvc.core.errors import ConfigurationError
from labsvc.core.problems import PROBLEM_JSON
from labsvc.core import simtime


class NotesBase(SQLModel, registry=registry()):
    pass


class Note(NotesBase, table=True):
    __tablename__ = "notes"
    id: int | None = Field(default=None, primary_key=True)
    text: str


def notes_app(directory=None):
    db = service_database("notes", NotesBase.metadata, directory=directory)
    app = data_service("notes", db)

    @app.post("/notes", status_code=201)
    async def add(body: dict):
        with db.session() as s:
            note = Note(text=body["text"])
            s.add(note)
            s.commit()
            return {"id": note.id, "text": note.text}

    @app.get("/notes")
    async def all_notes():
        with db.session() as s:
            return [n.text for n in s.exec(select(Note)).all()]

    @app.get("/boom")
    async def boom():
        with db.session() as s:
            s.exec(sa.text("SELECT no_such_column FROM notes")).all()

    return app


def test_each_instance_opens_its_own_database_when_it_starts_and_disposes_it_when_it_stops():
    async def scenario():
        net = Network(seed=1, name="test-db-instances")
        net.add("notes", notes_app, instances=2)
        dbs = [i.app.state.database for i in net.service("notes").instances]
        assert [db.is_open for db in dbs] == [False, False]
        with pytest.raises(DatabaseNotOpenError, match="opens when the service starts"):
            dbs[0].engine
        async with net:
            assert [db.is_open for db in dbs] == [True, True]
            client = net.client("test")
            assert (await client.post("http://notes-1.svc/notes", json={"text": "only in one"})).status_code == 201
            on_1 = (await client.get("http://notes-1.svc/notes")).json()
            on_2 = (await client.get("http://notes-2.svc/notes")).json()
            table = describe_databases(net)
        assert [db.is_open for db in dbs] == [False, False]
        assert [db.opened for db in dbs] == [1, 1]
        return on_1, on_2, table

    on_1, on_2, table = simtime.run(scenario())
    assert on_1 == ["only in one"] and on_2 == []
    assert table["where"].tolist() == ["in memory", "in memory"]
    assert table["tables"].tolist() == ["notes", "notes"]


def test_a_file_database_survives_a_restart_and_an_in_memory_one_does_not(tmp_path):
    async def scenario(directory):
        net = Network(seed=1, name="test-db-restart")
        net.add("notes", lambda: notes_app(directory))
        async with net:
            client = net.client("test")
            await client.post("http://notes.svc/notes", json={"text": "kept?"})
            await net.restart("notes")
            return (await client.get("http://notes.svc/notes")).json()

    assert simtime.run(scenario(tmp_path)) == ["kept?"]
    assert (tmp_path / "notes.db").is_file()
    assert simtime.run(scenario(None)) == []


def test_a_service_sees_only_the_tables_its_own_code_declares():
    async def scenario():
        net = Network(seed=1, name="test-db-own-tables")
        net.add("customers", customers_app)
        net.add("orders", orders_app)
        async with net:
            return describe_databases(net)

    table = simtime.run(scenario()).set_index("service")
    assert table.loc["customers", "tables"] == "customers"
    assert table.loc["orders", "tables"] == "orders"


def test_an_sql_error_is_a_500_problem_naming_the_error_class():
    async def scenario():
        net = Network(seed=1, name="test-db-sql-error")
        net.add("notes", notes_app)
        async with net:
            return await net.client("test").get("http://notes.svc/boom")

    r = simtime.run(scenario())
    assert r.status_code == 500
    assert r.headers["content-type"] == PROBLEM_JSON
    doc = r.json()
    assert doc["status"] == 500 and doc["type"] == "urn:labsvc:problem:database-error"
    assert doc["error_class"] == "OperationalError"
    assert "no such column: no_such_column" in doc["sql_error"]


def test_the_database_can_be_used_without_a_network_and_shows_its_tables():
    db = ServiceDatabase("notes", NotesBase.metadata)
    db.open()
    db.open()  # idempotent
    with db.session() as s:
        s.add(Note(text="a"))
        s.commit()
    assert db.tables() == ["notes"]
    assert db.columns("notes") == ["id", "text"]
    assert db.table("notes")["text"].tolist() == ["a"]
    with pytest.raises(ConfigurationError, match="has no table 'orders'"):
        db.table("orders")
    db.close()
    db.close()
    assert "closed" in repr(db)


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ConfigurationError, match="owner="):
        ServiceDatabase("Orders DB", NotesBase.metadata)
    with pytest.raises(ConfigurationError, match="MetaData"):
        ServiceDatabase("notes", object())
    with pytest.raises(ConfigurationError, match="not both"):
        ServiceDatabase("notes", NotesBase.metadata, url="sqlite://", directory="/tmp")
    with pytest.raises(ConfigurationError, match="setup="):
        data_service("notes", ServiceDatabase("notes", NotesBase.metadata), lifespan=None)


def test_a_setup_that_fails_closes_the_database_again():
    def broken(db):
        raise RuntimeError("migration failed")

    db = ServiceDatabase("notes", NotesBase.metadata, setup=broken)
    with pytest.raises(RuntimeError, match="migration failed"):
        db.open()
    assert not db.is_open
