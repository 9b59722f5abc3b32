"""What the API gateway hop costs, against calling the service directly.

The same endpoint (``GET /products/1`` of the shop's catalog service) is
called two ways in one run:

- directly: ``http://catalog.svc/products/1``;
- through the gateway: ``http://gateway.svc/catalog/products/1`` (the
  gateway matches the route, checks the token when auth is on, and forwards
  over the network: two hops instead of one).

Auth on uses RS256 with a 2048-bit key. By default the gateway's verifier
remembers verified tokens (as Envoy's ``jwt_cache_config`` does) and checks
only their expiry again; the "no token cache" variant verifies the RSA
signature on every request. Each configuration runs on its own network,
and its ratio is taken against the direct call on that same network.
Variants are measured in interleaved rounds and the median round is kept,
so a noisy neighbour hurts all of them alike. Target: gateway / direct <= 2.5
with auth off and with auth on as the gateway runs by default (token cache);
the no-cache variant is printed for reference.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_gateway.py``.
"""

from __future__ import annotations

import asyncio
import statistics

from labsvc import Network
from labsvc.gateway import gateway_app
from labsvc.auth.jwt_tokens import TokenIssuer
from labsvc.shop.services import catalog_app

from _timing import per_call  # benchmarks/_timing.py (scripts run from this folder)

CALLS = 1500
ROUNDS = 5
TARGET = 2.5



def build(name: str, auth=None) -> Network:
    net = Network(seed=0, name=f"bench-gateway-{name}", time="real")
    net.add("catalog", catalog_app)
    net.add("gateway", gateway_app({"/catalog": "catalog"}, auth=auth))
    return net


async def main() -> None:
    issuer = TokenIssuer("RS256", ttl="1h")
    token = {"authorization": f"Bearer {issuer.issue('bench')}"}
    configs = {
        "auth off": (build("open"), None),
        "auth on (RS256, token cache)": (build("auth", issuer.verifier()), token),
        "auth on (RS256, no token cache)": (build("auth-nocache", issuer.verifier(cache_size=0)), token),
    }
    for net, _ in configs.values():
        await net.start()
    try:
        variants = {}
        for label, (net, headers) in configs.items():
            client = net.client("bench")
            r = await client.get("http://gateway.svc/catalog/products/1", headers=headers)
            assert r.status_code == 200, r.text
            variants[(label, "direct")] = lambda c=client: c.get("http://catalog.svc/products/1")
            variants[(label, "gateway")] = lambda c=client, h=headers: c.get("http://gateway.svc/catalog/products/1", headers=h)
        rounds: dict[tuple[str, str], list[float]] = {k: [] for k in variants}
        for _ in range(ROUNDS):
            for key, fn in variants.items():
                rounds[key].append(await per_call(fn, CALLS))
    finally:
        for net, _ in configs.values():
            await net.stop()
    med = {k: statistics.median(v) for k, v in rounds.items()}

    print("per-call time, median of", ROUNDS, "rounds of", CALLS, "calls:")
    for (label, how), seconds in med.items():
        print(f"  {label:<34} {how:<8} {seconds * 1e6:8.1f} us")
    for label in configs:
        ratio = med[(label, "gateway")] / med[(label, "direct")]
        added = (med[(label, "gateway")] - med[(label, "direct")]) * 1e6
        if "no token cache" in label:
            # Not how the gateway runs by default: it prices one RS256
            # verification (PyJWT's base64 checks and the RSA check) per request.
            verdict = "(for reference, no target)"
        else:
            verdict = f"(target <= {TARGET:.2f}) {'OK' if ratio <= TARGET else 'MISSED'}"
        print(f"ratio: gateway hop / direct hop, {label} = {ratio:.2f} {verdict}; "
              f"the gateway adds {added:.0f} us per request")


if __name__ == "__main__":
    asyncio.run(main())
