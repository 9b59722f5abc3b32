"""Fixtures for the API-first tests: the catalog contract, and apps served on a private network."""

import copy
import itertools
from contextlib import asynccontextmanager

import pytest

from labsvc import Network
from labsvc.api import load_contract

_CONTRACT = load_contract("catalog")
_names = itertools.count(1)


@pytest.fixture
def contract() -> dict:
    """A fresh copy of the catalog contract (tests may change it)."""
    return copy.deepcopy(_CONTRACT)


@asynccontextmanager
async def _serve(app, service: str = "catalog", instances: int = 1):
    net = Network(seed=0, name=f"api-test-{next(_names)}")
    net.add(service, app, instances=instances)
    async with net:
        yield net


@pytest.fixture
def serve():
    """``async with serve(app) as net:`` runs ``app`` as ``http://catalog.svc`` on a private network."""
    return _serve
