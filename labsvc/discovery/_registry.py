"""The registry: leases, heartbeats, eviction and self-preservation, with Eureka's semantics.

See :mod:`labsvc.discovery` for the model, and the deliberate differences from Eureka.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import pandas as pd

from labsvc.core.clock import Clock, MonotonicClock
from labsvc.core.durations import positive_seconds
from labsvc.core.errors import ConfigurationError, UnknownInstanceError, check_name

DEFAULT_LEASE_DURATION = 90.0
DEFAULT_RENEWAL_INTERVAL = 30.0
DEFAULT_EVICTION_INTERVAL = 60.0
DEFAULT_RENEWAL_PERCENT_THRESHOLD = 0.85
DEFAULT_REFRESH_INTERVAL = 30.0

_EVENT_COLUMNS = ["time", "event", "service", "instance", "detail"]


class InstanceStatus(StrEnum):
    """An instance's own report of itself; only UP instances are handed out."""

    UP = "UP"
    DOWN = "DOWN"
    STARTING = "STARTING"
    OUT_OF_SERVICE = "OUT_OF_SERVICE"


@dataclass(frozen=True)
class InstanceInfo:
    """One registered instance, as of one moment (the registry hands out copies)."""

    service: str
    instance: str
    url: str
    metadata: dict[str, Any] = field(default_factory=dict)
    status: InstanceStatus = InstanceStatus.UP
    registered_at: float = 0.0
    last_renewal: float = 0.0
    lease_duration: float = DEFAULT_LEASE_DURATION
    #: Seconds a renewal added on top of the lease: ``lease_duration`` when the registry copies
    #: Eureka's ``Lease.renew`` (``eureka_renew_bug=True``) and the instance has renewed, else 0.
    renewal_extension: float = 0.0

    @property
    def expires_at(self) -> float:
        """When the lease runs out if no heartbeat comes (registry-clock seconds)."""
        return self.last_renewal + self.lease_duration + self.renewal_extension

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service, "instance": self.instance, "url": self.url,
            "metadata": dict(self.metadata), "status": str(self.status), "registered_at": self.registered_at,
            "last_renewal": self.last_renewal, "lease_duration": self.lease_duration,
            "renewal_extension": self.renewal_extension,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstanceInfo:
        return cls(data["service"], data["instance"], data["url"], dict(data.get("metadata") or {}),
                   InstanceStatus(data.get("status", "UP")), data.get("registered_at", 0.0),
                   data.get("last_renewal", 0.0), data.get("lease_duration", DEFAULT_LEASE_DURATION),
                   data.get("renewal_extension", 0.0))




def _status(value: Any) -> InstanceStatus:
    try:
        return InstanceStatus(value)
    except ValueError:
        valid = ", ".join(s.value for s in InstanceStatus)
        raise ConfigurationError(f"status={value!r} is not an instance status; use one of {valid}") from None


class ServiceRegistry:
    """A Eureka-style registry: leases, heartbeats, eviction, self-preservation.

    ``lease_duration`` is how long an instance stays without a heartbeat,
    ``renewal_interval`` how often instances are expected to send one (it
    sets the expected renewal rate), ``eviction_interval`` how often
    :meth:`tick` runs eviction. Self-preservation suspends eviction while
    renewals in the last whole minute are at or below
    ``renewal_percent_threshold`` of those expected. ``gradual_eviction`` evicts at most
    ``1 - renewal_percent_threshold`` of the registry per run, in random
    order (drawn from ``rng``), as Eureka does so that one bad run cannot
    wipe the registry.

    ``eureka_renew_bug`` copies a known bug of Eureka's ``Lease``:
    ``renew()`` sets the last update to *now + duration* and ``isExpired()``
    adds the duration again, so once an instance has renewed, its lease
    runs out 2 x ``lease_duration`` after the last heartbeat (180 s by
    default). Eureka keeps the bug for compatibility; it matters only for
    instances that die without cancelling. Off by default here, so a lease
    means what it says; :class:`~labsvc.discovery.lab.DiscoveryLab` turns
    it on to measure real Eureka's worst case.

    >>> from labsvc.core.clock import FakeClock
    >>> clock = FakeClock()
    >>> registry = ServiceRegistry(clock, self_preservation=False)
    >>> _ = registry.register("orders", "orders-1", "http://orders-1.svc")
    >>> clock.advance(90); registry.evict()          # exactly 90 s: not yet
    []
    >>> clock.advance(1); [i.instance for i in registry.evict()]
    ['orders-1']
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        lease_duration: float | str = DEFAULT_LEASE_DURATION,
        renewal_interval: float | str = DEFAULT_RENEWAL_INTERVAL,
        eviction_interval: float | str = DEFAULT_EVICTION_INTERVAL,
        renewal_percent_threshold: float = DEFAULT_RENEWAL_PERCENT_THRESHOLD,
        self_preservation: bool = True,
        gradual_eviction: bool = True,
        eureka_renew_bug: bool = False,
        rng: random.Random | None = None,
        event_log_size: int = 100_000,
    ) -> None:
        if (isinstance(renewal_percent_threshold, bool) or not isinstance(renewal_percent_threshold, (int, float))
                or not 0 < renewal_percent_threshold <= 1):
            raise ConfigurationError(
                f"renewal_percent_threshold={renewal_percent_threshold!r} must be in (0, 1], e.g. 0.85 (Eureka's default)"
            )
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.lease_duration = positive_seconds(lease_duration, "lease_duration")
        self.renewal_interval = positive_seconds(renewal_interval, "renewal_interval")
        self.eviction_interval = positive_seconds(eviction_interval, "eviction_interval")
        self.renewal_percent_threshold = float(renewal_percent_threshold)
        self.self_preservation_enabled = bool(self_preservation)
        self.gradual_eviction = bool(gradual_eviction)
        self.eureka_renew_bug = bool(eureka_renew_bug)
        self.rng = rng if rng is not None else random.Random(0)
        self._instances: dict[str, dict[str, InstanceInfo]] = {}
        self._expected_clients = 0  # Eureka's expectedNumberOfClientsSendingRenews
        # Eureka's MeasuredRate: whole minutes counted from the registry's start.
        self._started = self.clock.now()
        self._minute = 0  # index of the minute being counted
        self._this_minute = 0
        self._last_minute = 0
        self._next_eviction = self.clock.now() + self.eviction_interval
        self._preserving = False  # state at the last eviction run, for the on/off events
        self._events: deque[tuple] = deque(maxlen=event_log_size)

    # -- the instance's side ---------------------------------------------

    def register(
        self,
        service: str,
        instance: str,
        url: str,
        metadata: dict[str, Any] | None = None,
        *,
        status: InstanceStatus | str = InstanceStatus.UP,
        lease_duration: float | str | None = None,
    ) -> InstanceInfo:
        """Register (or re-register) ``instance`` of ``service`` at ``url``; starts its lease.

        >>> registry = ServiceRegistry()
        >>> registry.register("catalog", "catalog-1", "http://catalog-1.svc", {"zone": "a"}).status
        <InstanceStatus.UP: 'UP'>
        """
        check_name(service, "service", 'catalog-1')
        check_name(instance, "instance", 'catalog-1')
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"url={url!r} must be an http(s) URL, e.g. 'http://catalog-1.svc'")
        if metadata is not None and not (isinstance(metadata, dict) and all(isinstance(k, str) for k in metadata)):
            raise ConfigurationError(f"metadata must be a dict with str keys, got {metadata!r}")
        lease = self.lease_duration if lease_duration is None else positive_seconds(lease_duration, "lease_duration")
        now = self.clock.now()
        existing = self._instances.get(service, {}).get(instance)
        info = InstanceInfo(service, instance, url, dict(metadata or {}), _status(status),
                            existing.registered_at if existing else now, now, lease)
        self._instances.setdefault(service, {})[instance] = info
        if existing is None:
            self._expected_clients += 1
        self._event("registered", service, instance, "re-registered" if existing else url)
        return info

    def heartbeat(self, service: str, instance: str) -> InstanceInfo:
        """Renew the lease of ``instance``.

        Raises :class:`UnknownInstanceError` when the registry does not know
        it (evicted, cancelled, or the registry restarted): like Eureka's 404,
        it tells the instance to register again.
        """
        info = self.get(service, instance)
        now = self.clock.now()
        info = replace(info, last_renewal=now, renewal_extension=info.lease_duration if self.eureka_renew_bug else 0.0)
        self._instances[service][instance] = info
        self._roll_minute()
        self._this_minute += 1
        self._event("renewed", service, instance)
        return info

    renew = heartbeat

    def cancel(self, service: str, instance: str) -> InstanceInfo:
        """Deregister ``instance`` at once (a clean shutdown)."""
        info = self.get(service, instance)
        self._remove(info)
        self._event("cancelled", service, instance)
        return info

    def set_status(self, service: str, instance: str, status: InstanceStatus | str) -> InstanceInfo:
        """Change the status (e.g. OUT_OF_SERVICE to take an instance out of rotation)."""
        info = replace(self.get(service, instance), status=_status(status))
        self._instances[service][instance] = info
        self._event("status_changed", service, instance, str(info.status))
        return info

    # -- the client's side -----------------------------------------------

    def get(self, service: str, instance: str) -> InstanceInfo:
        """The registration of one instance, whatever its status."""
        info = self._instances.get(service, {}).get(instance)
        if info is None:
            known = ", ".join(sorted(self._instances.get(service, {}))) or "none"
            raise UnknownInstanceError(
                f"instance {instance!r} of service {service!r} is not registered (known: {known}); "
                f"it may have been evicted or cancelled: register it again"
            )
        return info

    def lookup(self, service: str) -> list[InstanceInfo]:
        """The UP instances of ``service``, by name; empty if there are none.

        Instances whose lease expired but that are not evicted yet are still
        listed: that is how a client ends up calling a dead instance.
        """
        return [i for _, i in sorted(self._instances.get(service, {}).items())
                if i.status is InstanceStatus.UP]

    def services(self) -> list[str]:
        """Names of services with at least one registered instance."""
        return sorted(s for s, instances in self._instances.items() if instances)

    def snapshot(self) -> dict[str, list[InstanceInfo]]:
        """Every service's UP instances (what a client fetches to fill its cache)."""
        return {s: self.lookup(s) for s in self.services()}

    def instances(self) -> pd.DataFrame:
        """Every registered instance, any status, with its lease as of now."""
        now = self.clock.now()
        rows = [{**i.to_dict(), "expires_at": i.expires_at, "expired": now > i.expires_at}
                for s in self.services() for _, i in sorted(self._instances[s].items())]
        columns = ["service", "instance", "url", "status", "registered_at", "last_renewal",
                   "lease_duration", "expires_at", "expired", "metadata"]
        return pd.DataFrame(rows, columns=columns)

    # -- eviction and self-preservation -------------------------------------

    def renewals_last_minute(self) -> int:
        """Heartbeats received in the previous whole minute: what self-preservation compares.

        Minutes are counted from the registry's start (Eureka's
        ``MeasuredRate``, a 60 s timer); a minute with no heartbeats at all
        counts 0.
        """
        self._roll_minute()
        return self._last_minute

    def renewals_this_minute(self) -> int:
        """Heartbeats received so far in the minute being counted."""
        self._roll_minute()
        return self._this_minute

    def _roll_minute(self) -> None:
        minute = math.floor((self.clock.now() - self._started) / 60.0)
        if minute > self._minute:
            # The minute just ended becomes the last one, unless a silent minute followed it.
            self._last_minute = self._this_minute if minute == self._minute + 1 else 0
            self._this_minute = 0
            self._minute = minute

    @property
    def expected_renewals_per_minute(self) -> float:
        """Two per registered instance at the default 30 s interval."""
        return self._expected_clients * (60.0 / self.renewal_interval)

    @property
    def renewal_threshold(self) -> int:
        """Renewals per minute needed to keep evicting (Eureka truncates to an int)."""
        return int(self.expected_renewals_per_minute * self.renewal_percent_threshold)

    @property
    def self_preservation(self) -> bool:
        """True while eviction is suspended because too few renewals arrive."""
        if not self.self_preservation_enabled:
            return False
        threshold = self.renewal_threshold
        # Eureka needs strictly more renewals than the threshold to evict.
        return threshold > 0 and self.renewals_last_minute() <= threshold

    def evict(self) -> list[InstanceInfo]:
        """Run the eviction task now; returns the instances it evicted.

        Does nothing while self-preservation is on. Otherwise evicts expired
        instances, at most ``1 - renewal_percent_threshold`` of the registry
        per run when ``gradual_eviction`` is on.
        """
        now = self.clock.now()
        preserving = self.self_preservation
        if preserving != self._preserving:
            self._preserving = preserving
            detail = f"{self.renewals_last_minute()} renewals in the last minute, threshold {self.renewal_threshold}"
            self._event("self_preservation_on" if preserving else "self_preservation_off", None, None, detail)
        if preserving:
            return []
        expired = [i for s in self.services() for _, i in sorted(self._instances[s].items()) if now > i.expires_at]
        limit = len(expired)
        if self.gradual_eviction:
            size = sum(len(v) for v in self._instances.values())
            limit = min(limit, size - int(size * self.renewal_percent_threshold))
        # Random order, so that when the limit bites no service is always last.
        victims = self.rng.sample(expired, limit) if limit < len(expired) else expired
        for info in victims:
            self._remove(info)
            self._event("evicted", info.service, info.instance,
                        f"lease expired {now - info.expires_at:.3g}s ago")
        return victims

    @property
    def next_eviction(self) -> float:
        """When the eviction timer is next due (registry-clock seconds); :meth:`tick` runs it then."""
        return self._next_eviction

    def tick(self) -> list[InstanceInfo]:
        """The eviction timer: run :meth:`evict` if it is due, then schedule the next run.

        Runs are ``eviction_interval`` apart, counted from the registry's
        creation (then from each timed run, like ``java.util.Timer``'s fixed
        delay); calling :meth:`evict` by hand does not move the schedule.
        """
        now = self.clock.now()
        if now < self._next_eviction:
            return []
        self._next_eviction = now + self.eviction_interval
        return self.evict()

    @property
    def events(self) -> pd.DataFrame:
        """Registrations, renewals, cancellations, evictions, status and self-preservation changes."""
        return pd.DataFrame(list(self._events), columns=_EVENT_COLUMNS)

    def status(self) -> dict[str, Any]:
        """The numbers Eureka's dashboard shows."""
        return {
            "instances": sum(len(v) for v in self._instances.values()),
            "renewals_last_minute": self.renewals_last_minute(),
            "renewals_this_minute": self.renewals_this_minute(),
            "expected_renewals_per_minute": self.expected_renewals_per_minute,
            "renewal_threshold": self.renewal_threshold,
            "self_preservation_enabled": self.self_preservation_enabled,
            "self_preservation": self.self_preservation,
        }

    def _remove(self, info: InstanceInfo) -> None:
        del self._instances[info.service][info.instance]
        if not self._instances[info.service]:
            del self._instances[info.service]
        # Modern Eureka lowers the expected renewals on evictions as well as
        # cancellations, so the threshold follows the registry's size.
        self._expected_clients = max(0, self._expected_clients - 1)

    def _event(self, event: str, service: str | None, instance: str | None, detail: str = "") -> None:
        self._events.append((self.clock.now(), event, service, instance, detail))

    def __repr__(self) -> str:
        n = sum(len(v) for v in self._instances.values())
        return f"ServiceRegistry(instances={n}, self_preservation={self.self_preservation})"
