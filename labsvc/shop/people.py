"""Employees, sign-in and search: the guide's example of identifying a service.

마이크로서비스 식별 (identifying microservices) starts from two services, an
**employee** service and an **auth** (sign-in) service, and asks what to do
when employee *search* is added. This module runs both answers:

* ``"embedded"``: search is an endpoint of the employee service
  (``GET /employees/search``), over the employee table;
* ``"service"``: search is its own **search** service, a generic full-text
  index (``/indexes/{index}/...``) that the employee service feeds when an
  employee is added, and that any other team can reuse (the catalog can index
  its products there too, see :func:`index_products`).

The criteria the guide names become measurements:

* **reuse**: how many other services call search (from the call log);
* **independence**: :func:`search_outage_experiment` crashes whatever hosts
  search and measures every feature's availability;
* **load and scaling**: a search query has a modelled service time and each
  instance answers one query at a time, so :func:`search_scaling_experiment`
  shows the queue and what adding search instances does to it.

Tokens are HMAC-signed with a course-only key (standard library only; the
JWT notebooks come later). Everything is seeded; the search index of one
network is shared by its search instances (the service's own store behind
stateless API instances), which works in-process only.

>>> net = build_people("service", seed=1)                     # doctest: +SKIP
>>> async with net:                                           # doctest: +SKIP
...     token = await login(net.client("browser"))
"""

from __future__ import annotations

import asyncio
import hmac
import random
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd
from pydantic import BaseModel, Field

from labsvc.core.errors import ConfigurationError
from labsvc.core.load import LoadRun, by_label, open_loop
from labsvc.core.network import Network
from labsvc.core.problems import Problem, problem_type
from labsvc.auth.jwt_tokens import TokenIssuer, TokenRejected
from labsvc.core.service import Request, create_service, http
from labsvc.core.simtime import experiment, follows_network

__all__ = [
    "DESIGNS",
    "FEATURES",
    "SEARCH_SERVICE_TIME",
    "USERS",
    "directory",
    "SearchIndex",
    "auth_app",
    "employee_app",
    "search_app",
    "build_people",
    "login",
    "index_products",
    "people_load",
    "availability_by_feature",
    "search_outage_experiment",
    "search_scaling_experiment",
]

DESIGNS = ("embedded", "service")

#: Share of the traffic per feature: looking people up dominates.
FEATURES: dict[str, float] = {"search": 0.7, "list": 0.2, "add": 0.1}

#: Modelled time one search query keeps an instance busy (an instance answers
#: one query at a time, so queries queue when they arrive faster).
SEARCH_SERVICE_TIME = 0.004

#: Who may sign in: ``{username: (password, roles)}``. Course data, not secrets.
USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "hana": ("hana-pw", ("hr", "staff")),
    "minjun": ("minjun-pw", ("staff",)),
}

_KEY = b"labsvc-course-only-signing-key-hs256"  # demo key (>= 32 bytes): never reuse outside the course
_TOKEN_TTL = 600.0
_FIRST = ["Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim"]
_GIVEN = ["Jiwoo", "Minseo", "Hyunwoo", "Seoyeon", "Dohyun", "Jiho", "Yuna", "Siwoo", "Harin", "Eunwoo"]
_DEPARTMENTS = ["sales", "warehouse", "support", "finance", "it"]
_ROLES = ["manager", "clerk", "engineer", "analyst", "picker"]


def directory(n: int = 40, seed: int = 0) -> list[dict]:
    """``n`` seeded employees (id, name, department, role): every service starts from the same data."""
    rng = random.Random(f"people/{seed}")
    return [{"id": i + 1, "name": f"{rng.choice(_FIRST)} {rng.choice(_GIVEN)}",
             "department": rng.choice(_DEPARTMENTS), "role": rng.choice(_ROLES)} for i in range(n)]


def _check_design(value: str, name: str = "design") -> None:
    if value not in DESIGNS:
        raise ConfigurationError(f"{name}={value!r} is not known; use one of {DESIGNS}")


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


class SearchIndex:
    """A tiny full-text index: documents per index name, matched on every query word."""

    def __init__(self) -> None:
        self.indexes: dict[str, dict[str, dict]] = {}

    def put(self, index: str, doc_id: str, fields: dict) -> None:
        """Add or replace one document."""
        self.indexes.setdefault(index, {})[str(doc_id)] = dict(fields)

    def search(self, index: str, q: str, limit: int = 10) -> list[dict]:
        """Documents of ``index`` containing every word of ``q`` (in document id order)."""
        words = _words(q)
        hits = []
        for doc_id, fields in self.indexes.get(index, {}).items():
            if words <= _words(" ".join(str(v) for v in fields.values())):
                hits.append({"id": doc_id, **fields})
        return sorted(hits, key=lambda h: (len(h["id"]), h["id"]))[:limit]


class _Busy:
    """One query at a time per instance, each taking ``service_time`` (the modelled work)."""

    def __init__(self, service_time: float) -> None:
        self.service_time = service_time
        self.lock = asyncio.Lock()

    async def work(self) -> None:
        async with self.lock:
            await asyncio.sleep(self.service_time)


# -- auth ------------------------------------------------------------------------------


class Credentials(BaseModel):
    username: str
    password: str


# Tokens are real JWTs (PyJWT through labsvc.auth.jwt_tokens), HS256 with a shared
# secret: the auth service issues them and verifies them for the others.
_ISSUER = TokenIssuer("HS256", secret=_KEY, issuer="labsvc-auth", audience="labsvc-people", ttl=_TOKEN_TTL)
_VERIFIER = _ISSUER.verifier()


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Not signed in", type=problem_type("not-authenticated"), detail=detail,
                   headers={"www-authenticate": "Bearer"})


def auth_app():
    """The auth service: ``POST /tokens`` signs a user in, ``GET /verify`` checks a token."""
    app = create_service("auth", description="Sign-in and token checks, reused by every other service.")

    @app.post("/tokens", status_code=201)
    async def sign_in(body: Credentials) -> dict:
        user = USERS.get(body.username)
        if user is None or not hmac.compare_digest(user[0], body.password):
            raise _unauthorized("unknown user name or wrong password")
        token = _ISSUER.issue(body.username, claims={"roles": list(user[1])})
        return {"token": token, "expires_in": _TOKEN_TTL}

    @app.get("/verify")
    async def verify(request: Request) -> dict:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            raise _unauthorized("send 'Authorization: Bearer <token>' (get one from POST /tokens)")
        token = header.split(" ", 1)[1].strip()
        try:
            claims = _VERIFIER.verify(token)
        except TokenRejected as exc:
            raise _unauthorized(f"the token was rejected ({exc.reason}): {exc.detail}") from None
        return {"sub": claims["sub"], "roles": claims["roles"]}

    return app


# -- employee --------------------------------------------------------------------------


class NewEmployee(BaseModel):
    name: str = Field(min_length=1)
    department: str = Field(min_length=1)
    role: str = Field(min_length=1)


async def _who(request: Request) -> dict:
    """Ask the auth service who is calling (one hop); pass its 401 on."""
    headers = {"authorization": request.headers.get("authorization", "")}
    try:
        r = await http(request).get("http://auth.svc/verify", headers=headers)
    except httpx.HTTPError as exc:
        raise Problem(503, "Dependency unavailable", type=problem_type("dependency-unavailable"),
                      detail=f"auth: {type(exc).__name__}") from None
    if r.status_code != 200:
        raise _unauthorized(r.json().get("detail", "auth refused the token"))
    return r.json()


def employee_app(search: str = "service", seed: int = 0, service_time: float = SEARCH_SERVICE_TIME):
    """The employee service. With ``search="embedded"`` it also answers ``GET /employees/search``;
    with ``search="service"`` it feeds new employees to the search service instead."""
    _check_design(search, "search")
    app = create_service("employee", description=f"Employees and roles (search: {search}).")
    staff = {e["id"]: e for e in directory(seed=seed)}
    busy = _Busy(service_time)
    pending: list[int] = []  # employees not yet in the search index (search was unreachable)

    @app.get("/employees")
    async def list_employees(request: Request, department: str | None = None) -> list[dict]:
        await _who(request)
        return [e for e in staff.values() if department is None or e["department"] == department]

    @app.post("/employees", status_code=201)
    async def add_employee(body: NewEmployee, request: Request) -> dict:
        who = await _who(request)
        if "hr" not in who["roles"]:
            raise Problem(403, "Not allowed", type=problem_type("forbidden"),
                          detail=f"{who['sub']} may not add employees (needs role 'hr')")
        employee = {"id": max(staff) + 1, **body.model_dump()}
        staff[employee["id"]] = employee
        indexed = None
        if search == "service":
            # best effort: a new colleague is saved even while search is down
            try:
                r = await http(request).put(f"http://search.svc/indexes/employees/documents/{employee['id']}",
                                            json={k: employee[k] for k in ("name", "department", "role")})
                indexed = r.status_code < 400
            except httpx.HTTPError:
                indexed = False
            if not indexed:
                pending.append(employee["id"])
        return {**employee, "indexed": indexed}

    if search == "embedded":
        @app.get("/employees/search")
        async def search_employees(q: str, request: Request) -> list[dict]:
            await busy.work()
            words = _words(q)
            return [e for e in staff.values()
                    if words <= _words(f"{e['name']} {e['department']} {e['role']}")][:10]

    @app.get("/employees/pending-index", summary="Employees waiting to be indexed")
    async def pending_index() -> list[int]:
        return list(pending)

    return app


# -- search ----------------------------------------------------------------------------


class Document(BaseModel):
    model_config = {"extra": "allow"}


def search_app(index: SearchIndex | None = None, service_time: float = SEARCH_SERVICE_TIME):
    """The search service: a generic index any team can feed and query (no business rules)."""
    store = index if index is not None else SearchIndex()
    app = create_service("search", description="Full-text search over documents other services publish.")
    busy = _Busy(service_time)

    @app.put("/indexes/{index_name}/documents/{doc_id}")
    async def put_document(index_name: str, doc_id: str, body: Document) -> dict:
        store.put(index_name, doc_id, body.model_dump())
        return {"index": index_name, "id": doc_id}

    @app.get("/indexes/{index_name}/search")
    async def query(index_name: str, q: str, limit: int = 10) -> list[dict]:
        if index_name not in store.indexes:
            raise Problem(404, "Unknown index", type=problem_type("unknown-index"),
                          detail=f"no index {index_name!r}; indexes are {sorted(store.indexes)}")
        await busy.work()
        return store.search(index_name, q, limit)

    @app.get("/indexes")
    async def indexes() -> dict[str, int]:
        return {name: len(docs) for name, docs in sorted(store.indexes.items())}

    return app


def build_people(design: str, *, search_instances: int = 1, seed: int = 0, name: str | None = None,
                 service_time: float = SEARCH_SERVICE_TIME) -> Network:
    """A network with ``auth`` and ``employee``, plus ``search`` when ``design == "service"``.

    The search index starts with the employee directory, as if the employee
    service had fed it already; ``search_instances`` instances share it.
    """
    _check_design(design)
    if design == "embedded" and search_instances != 1:
        raise ConfigurationError("with search embedded there is no search service to scale; "
                                 "use design='service' to scale search on its own")
    net = Network(seed=seed, name=name or f"people-{design}")
    net.add("auth", auth_app)
    net.add("employee", lambda: employee_app(design, seed=seed, service_time=service_time))
    if design == "service":
        index = SearchIndex()
        for e in directory(seed=seed):
            index.put("employees", str(e["id"]), {k: e[k] for k in ("name", "department", "role")})
        net.add("search", lambda: search_app(index, service_time=service_time), instances=search_instances)
    return net


async def login(client, username: str = "hana") -> dict[str, str]:
    """Sign in through the auth service; returns the ``Authorization`` header to send."""
    if username not in USERS:
        raise ConfigurationError(f"unknown user {username!r}; users are {sorted(USERS)}")
    r = await client.post("http://auth.svc/tokens", json={"username": username, "password": USERS[username][0]})
    if r.status_code != 201:
        raise ConfigurationError(f"signing in as {username!r} failed: {r.status_code} {r.text}")
    return {"authorization": f"Bearer {r.json()['token']}"}


@follows_network
async def index_products(net: Network, caller: str = "catalog") -> int:
    """The catalog team reuses the search service for products: publish the ten products there."""
    from labsvc.shop.modules import PRODUCTS

    client = net.client(caller)
    for p in PRODUCTS:
        r = await client.put(f"http://search.svc/indexes/products/documents/{p['id']}",
                             json={"name": p["name"], "price": p["price"]})
        if r.status_code >= 400:
            raise ConfigurationError(f"indexing product {p['id']} failed: {r.status_code} {r.text}")
    return len(PRODUCTS)


def _feature(i: int, seed: int, mix: dict[str, float]) -> str:
    names = list(mix)
    return random.Random(f"{seed}/people/{i}").choices(names, weights=[mix[n] for n in names])[0]


@follows_network
async def people_load(net: Network, design: str, *, rate: float = 100, requests: int | None = 100,
                      duration: Any = None, seed: int = 0, mix: dict[str, float] | None = None,
                      timeout: float = 2.0) -> LoadRun:
    """Open-loop traffic mixing the features (default :data:`FEATURES`); ``label`` names each request's feature."""
    _check_design(design)
    mix = dict(mix or FEATURES)
    unknown = set(mix) - set(FEATURES)
    if unknown:
        raise ConfigurationError(f"unknown features {sorted(unknown)}; features are {list(FEATURES)}")
    headers = await login(net.client("browser"))
    people = directory(seed=seed)

    async def send(client, i):
        feature = _feature(i, seed, mix)
        person = people[i % len(people)]
        if feature == "search":
            q = person["name"].split()[0] if i % 2 else person["department"]
            url = ("http://search.svc/indexes/employees/search" if design == "service"
                   else "http://employee.svc/employees/search")
            return await client.get(url, params={"q": q})
        if feature == "list":
            return await client.get("http://employee.svc/employees", params={"department": person["department"]},
                                    headers=headers)
        return await client.post("http://employee.svc/employees", headers=headers,
                                 json={"name": f"New Hire {i}", "department": person["department"], "role": "clerk"})

    return await open_loop(net, send, rate=rate, requests=requests, duration=duration, caller="browser",
                           timeout=timeout, label=lambda i: _feature(i, seed, mix))


def availability_by_feature(df: pd.DataFrame, design: str | None = None) -> pd.DataFrame:
    """Requests, availability and latency percentiles (ms) per feature of a :func:`people_load` run."""
    return by_label(df, list(FEATURES), percentiles=(50, 95), name="feature", design=design)


@dataclass
class OutageRun:
    """Availability per feature while search's host was down, and the call log."""

    design: str
    availability: pd.DataFrame
    calls: pd.DataFrame
    pending_index: list[int] = field(default_factory=list)


@experiment
async def search_outage_experiment(design: str, *, at: Any = "0.3s", rate: float = 100, requests: int = 100,
                                   seed: int = 0) -> OutageRun:
    """Crash what hosts search (the search service, or the employee service when search is embedded)
    ``at`` into the run and keep it down; measure every feature's availability."""
    from labsvc.core.clock import parse_duration

    net = build_people(design, seed=seed, name=f"people-outage-{design}")
    host = "search" if design == "service" else "employee"
    async with net:
        async def crash():
            await asyncio.sleep(parse_duration(at, name="at"))
            await net.crash(host)

        run, _ = await asyncio.gather(people_load(net, design, rate=rate, requests=requests, seed=seed), crash())
        calls = net.calls
        pending = []
        if design == "service":
            pending = (await net.client("ops").get("http://employee.svc/employees/pending-index")).json()
    return OutageRun(design, availability_by_feature(run.df, design), calls, pending)


@experiment
async def search_scaling_experiment(instances: Any = (1, 2, 3), *, rate: float = 300, requests: int = 200,
                                    seed: int = 0, service_time: float = SEARCH_SERVICE_TIME) -> pd.DataFrame:
    """Search-only traffic at ``rate`` against 1, 2, 3... search instances (design ``"service"``).

    One row per instance count: instances, utilisation (offered load /
    capacity, where one instance serves ``1 / service_time`` queries per
    second), p50_ms, p95_ms, availability, ``module_copies`` (search
    instances plus the one employee instance) and
    ``module_copies_if_embedded`` (with search inside the employee service,
    every search copy is a copy of the employee module too).
    """
    counts = [instances] if isinstance(instances, int) else list(instances)
    if not counts or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in counts):
        raise ConfigurationError(f"instances={instances!r}: give instance counts >= 1, e.g. (1, 2, 3)")
    rows = []
    for n in counts:
        net = build_people("service", search_instances=n, seed=seed, name="people-scaling",
                           service_time=service_time)
        async with net:
            run = await people_load(net, "service", rate=rate, requests=requests, seed=seed, mix={"search": 1.0})
        s = run.summary()
        rows.append({"instances": n, "utilisation": rate * service_time / n, "p50_ms": s["p50_ms"],
                     "p95_ms": s["p95_ms"], "availability": s["availability"], "module_copies": n + 1,
                     "module_copies_if_embedded": 2 * n})
    return pd.DataFrame(rows)
