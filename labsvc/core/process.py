"""Process mode: every instance a real uvicorn process on 127.0.0.1.

The network in the notebook stays the seam. It binds each instance's
listening socket on 127.0.0.1 (a free port), hands it to a child process
(``python -m labsvc serve module:attr --fd N``) and closes its own copy, so
when the child dies the port really refuses connections.

Calls between services must still pass through the network, where faults
and the call log live. So a child's outbound client (:func:`labsvc.core.service.http`)
sends every request to a small proxy that runs in a thread of the notebook's
process; the proxy puts it through the same hop as any other call. Errors
the hop raises (instance down, partition, timeout) travel back as a problem
document naming the exception, and the child raises the same exception, so
service code behaves the same in both modes.

What process mode shows that in-process mode does not: real serialization
and kernel networking on every hop, process start-up time, and a crash that
takes the process (and its in-memory state) with it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from labsvc.core._wire import INSTANCE_HEADER, ROUTE_HEADER, build_response
from labsvc.core.apps import import_string
from labsvc.core.client import Client, Outbound
from labsvc.core.errors import InstanceDownError, PartitionError, ProcessModeError, UnknownServiceError
from labsvc.core.logs import read_marked
from labsvc.core.problems import PROBLEM_JSON, problem_bytes, problem_type
from labsvc.core.transport import Transport

if TYPE_CHECKING:  # pragma: no cover
    from labsvc.core.network import Instance, Network

__all__ = ["ProcessTransport", "ProcessRunner", "InstanceProcess", "import_string", "ProxyHop", "ENV_PROXY",
           "ENV_INSTANCE", "ENV_SERVICE"]

ENV_PROXY = "LABSVC_PROXY"
ENV_INSTANCE = "LABSVC_INSTANCE"
ENV_SERVICE = "LABSVC_SERVICE"
H_URL = "x-labsvc-url"
H_CALLER = "x-labsvc-caller"
H_CALLER_INSTANCE = "x-labsvc-caller-instance"
H_TIMEOUT = "x-labsvc-timeout"
H_TRACE = "x-labsvc-trace-id"
H_EXCEPTION = "x-labsvc-exception"
START_TIMEOUT = 60.0  # seconds for a child to import, run its lifespan and answer
_EXCEPTIONS: dict[str, type[Exception]] = {
    "InstanceDownError": InstanceDownError,
    "PartitionError": PartitionError,
    "UnknownServiceError": UnknownServiceError,
    "ReadTimeout": httpx.ReadTimeout,
    "ConnectError": httpx.ConnectError,
}


class InstanceProcess:
    """A child process serving one instance, and the port it listens on."""

    def __init__(self, popen: subprocess.Popen, port: int, log_path: str,
                 harvest: Callable[[list[dict]], None] | None = None) -> None:
        self.popen = popen
        self.port = port
        self.log_path = log_path
        self.pid = popen.pid
        self.harvest = harvest  # receives the process's log lines before its output file goes
        self.skip_logs = 0  # lines already handed out or reset (net.reset_logs)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as fh:
                return "".join(fh.readlines()[-lines:])
        except OSError:
            return ""

    def terminate(self, timeout: float = 10.0) -> None:
        """Ask for a graceful stop (the app's lifespan shutdown runs), then kill."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._cleanup()

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        self._cleanup()

    def log_rows(self) -> list[dict]:
        """The structured log lines (labsvc.core.logs) this process has written, minus those skipped."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as fh:
                return read_marked(fh)[self.skip_logs:]
        except OSError:
            return []

    def _cleanup(self) -> None:
        if self.harvest is not None:
            self.harvest(self.log_rows())
            self.harvest = None
        try:
            os.unlink(self.log_path)
        except OSError:
            pass


def _listen(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY: uvicorn writes an answer's head and body separately, and with
    # Nagle's algorithm the body waited for the ACK of the head, which the peer delays (about 40 ms per hop).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        if port == 0:
            sock.close()
            raise
        sock.bind(("127.0.0.1", 0))  # the old port is taken: take a new one
    sock.listen(1024)
    return sock


class ProcessTransport(Transport):
    """Starts, reaches and stops the processes of one network, and runs its proxy."""

    mode = "process"

    def __init__(self, network: "Network", log_sink: Callable[[dict], None]) -> None:
        super().__init__(network, log_sink)
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self._proxy_server: Any = None
        self._proxy_thread: threading.Thread | None = None
        self.proxy_port: int | None = None
        self.tls: Any = None  # labsvc.core.tls.CertificateAuthority with Network(mtls=True)

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    # -- proxy -----------------------------------------------------------------
    async def open(self) -> None:
        import uvicorn

        if getattr(self.network, "mtls", False):
            from labsvc.core.tls import CertificateAuthority

            self.tls = CertificateAuthority()
        sock = _listen()
        self.proxy_port = sock.getsockname()[1]
        ssl_options = self.tls.server_options("labsvc-proxy") if self.tls is not None else {}
        config = uvicorn.Config(ProxyApp(self.network), log_level="warning", access_log=False, lifespan="off",
                                **ssl_options)
        server = uvicorn.Server(config)
        self._proxy_server = server

        def run() -> None:
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(server.serve(sockets=[sock]))
                client = self._clients.pop(loop, None)
                if client is not None:
                    loop.run_until_complete(client.aclose())
            finally:
                sock.close()
                loop.close()

        self._proxy_thread = threading.Thread(target=run, name=f"labsvc-proxy-{self.network.name}", daemon=True)
        self._proxy_thread.start()

    def close(self) -> None:
        """Stop the proxy thread and drop the HTTP clients (processes are stopped by the network)."""
        if self._proxy_server is not None:
            self._proxy_server.should_exit = True
        if self._proxy_thread is not None:
            self._proxy_thread.join(timeout=10)
            self._proxy_thread = None
        self._proxy_server = None
        if self.tls is not None:
            self.tls.cleanup()  # the keys and certificates go with the network
            self.tls = None
        for loop, client in list(self._clients.items()):
            if not loop.is_closed():
                try:
                    running = asyncio.get_running_loop()
                except RuntimeError:
                    running = None
                if running is loop:
                    loop.create_task(client.aclose())
        self._clients.clear()

    # -- instances -------------------------------------------------------------
    async def start_instance(self, instance: "Instance") -> None:
        target = import_string(instance.service.app_spec)
        previous = instance.process.port if instance.process is not None else 0
        sock = _listen(previous)
        port = sock.getsockname()[1]
        log = tempfile.NamedTemporaryFile(prefix=f"labsvc-{instance.name}-", suffix=".log", delete=False)
        env = dict(os.environ)
        env.update(instance.service.env)
        env.update({
            ENV_PROXY: f"{self.scheme}://127.0.0.1:{self.proxy_port}",
            ENV_INSTANCE: instance.name,
            ENV_SERVICE: instance.service.name,
            "PYTHONPATH": os.pathsep.join(p for p in [os.getcwd(), *sys.path] if p),
            "PYTHONUNBUFFERED": "1",
        })
        if self.network.instrumentation is not None:  # e.g. the child traces and measures itself
            env.update(self.network.instrumentation.child_env(instance))
        if self.tls is not None:
            from labsvc.core.tls import ENV_TLS_CA, ENV_TLS_CERT, ENV_TLS_KEY

            cert, key = self.tls.issue(instance.name, server=True)
            env.update({ENV_TLS_CERT: cert, ENV_TLS_KEY: key, ENV_TLS_CA: self.tls.ca_file})
        cmd = [sys.executable, "-m", "labsvc", "serve", target, "--fd", str(sock.fileno()), "--instance", instance.name]
        try:
            popen = subprocess.Popen(cmd, pass_fds=(sock.fileno(),), env=env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            sock.close()  # the child holds the socket now; when it dies, the port refuses
            log.close()
        proc = InstanceProcess(popen, port, log.name, harvest=lambda rows: [self.log_sink(row) for row in rows])
        instance.process = proc
        try:
            await self._wait_ready(instance, proc)
        except BaseException:
            proc.kill()
            instance.process = None
            raise

    async def _wait_ready(self, instance: "Instance", proc: InstanceProcess) -> None:
        # The socket is listening already, so one request waits in the backlog
        # until uvicorn has imported the app, run its lifespan and accepts.
        client = self._client()
        try:
            await client.get(f"{self.scheme}://127.0.0.1:{proc.port}/health", timeout=START_TIMEOUT)
        except httpx.HTTPError as exc:
            await asyncio.sleep(0)  # let the child finish writing its error
            raise ProcessModeError(
                f"instance {instance.name} (pid {proc.pid}) did not start: {type(exc).__name__}. "
                f"Its output:\n{proc.log_tail()}"
            ) from None

    async def stop_instance(self, instance: "Instance") -> None:
        proc = instance.process
        if proc is None or isinstance(proc, _Stopped):
            return
        await asyncio.to_thread(proc.terminate)
        # Keep the port number so a restart gets the same URL when it can.
        instance.process = _Stopped(proc.port)

    def _processes(self) -> list[InstanceProcess]:
        return [i.process for s in self.network.services.values() for i in s.instances
                if isinstance(i.process, InstanceProcess)]

    def crash(self, instance: "Instance") -> None:
        """SIGKILL: no graceful shutdown, as in a crash; the port number is kept for a restart."""
        proc = instance.process
        if proc is not None and not isinstance(proc, _Stopped):
            proc.kill()
            instance.process = _Stopped(proc.port)

    def log_rows(self) -> list[dict]:
        """Log lines of the processes still running (stopped ones were harvested into the network)."""
        return [row for proc in self._processes() if proc.harvest is not None for row in proc.log_rows()]

    def skip_logs(self) -> None:
        """Make the lines written so far invisible (after net.reset_logs())."""
        for proc in self._processes():
            proc.skip_logs += len(proc.log_rows())

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
            verify = self.tls.client_context() if self.tls is not None else True
            client = httpx.AsyncClient(limits=limits, timeout=None, trust_env=False, verify=verify)
            self._clients[loop] = client
        return client

    async def send(self, instance: "Instance", out: Outbound, work: float = 0.0) -> tuple[httpx.Response, str]:
        if work > 0:  # a modelled service time on top of the process's own
            await asyncio.sleep(work)
        proc = instance.process
        if proc is None or isinstance(proc, _Stopped) or not proc.alive():
            raise InstanceDownError(f"connection refused: the process of instance {instance.name!r} is not running")
        url = f"{self.scheme}://127.0.0.1:{proc.port}{out.path}" + (f"?{out.query}" if out.query else "")
        headers = [(k, v) for k, v in out.headers if k not in (b"host", b"content-length")]
        headers.append((b"host", out.host.encode()))
        try:
            r = await self._client().request(out.method, url, headers=headers, content=out.body or None)
        except httpx.ConnectError as exc:
            raise InstanceDownError(f"connection refused by {instance.name} on 127.0.0.1:{proc.port}: {exc}") from None
        route = r.headers.get(ROUTE_HEADER, "")
        raw = [(k, v) for k, v in r.headers.raw if k.lower() not in (ROUTE_HEADER.encode(), b"transfer-encoding", b"content-encoding")]
        if INSTANCE_HEADER.encode() not in (k.lower() for k, _ in raw):
            raw.append((INSTANCE_HEADER.encode(), instance.name.encode()))
        return build_response(r.status_code, raw, r.content, out), route


ProcessRunner = ProcessTransport  # its name before transports were objects


class _Stopped:
    """Stands in for a stopped process: remembers the port for a restart."""

    def __init__(self, port: int) -> None:
        self.port = port

    def alive(self) -> bool:
        return False

    def kill(self) -> None:
        pass

    def terminate(self, timeout: float = 0) -> None:
        pass


class ProxyApp:
    """The ASGI app behind the proxy: puts a child's outbound call through the hop."""

    def __init__(self, network: "Network") -> None:
        self.network = network

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        meta = {}
        headers = []
        for k, v in scope["headers"]:
            if k.startswith(b"x-labsvc-"):
                meta[k.decode()] = v.decode()
            elif k not in (b"host", b"content-length"):
                headers.append((k, v))
        url = meta.get(H_URL, "")
        host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        timeout = meta.get(H_TIMEOUT)
        out = Outbound(
            scope["method"], url, host, scope["path"], scope["query_string"].decode(), headers, body,
            float(timeout) if timeout else None, meta.get(H_CALLER, "unknown"),
            meta.get(H_CALLER_INSTANCE, meta.get(H_CALLER, "unknown")), meta.get(H_TRACE, ""),
        )
        if body:
            headers.append((b"content-length", str(len(body)).encode()))
        try:
            response = await self.network.hop(out)
        except Exception as exc:  # travels back to the child, which raises it again
            name = type(exc).__name__
            status = 504 if isinstance(exc, httpx.TimeoutException) else 502
            payload = problem_bytes(status, type=problem_type("network-error"), detail=str(exc), exception=name)
            await send({"type": "http.response.start", "status": status, "headers": [
                (b"content-type", PROBLEM_JSON.encode()), (H_EXCEPTION.encode(), name.encode())]})
            await send({"type": "http.response.body", "body": payload})
            return
        raw = [(k, v) for k, v in response.headers.raw if k.lower() not in (b"content-length", b"transfer-encoding")]
        await send({"type": "http.response.start", "status": response.status_code, "headers": raw})
        await send({"type": "http.response.body", "body": response.content})


class ProxyHop:
    """A child's hop: sends each outbound call to the network's proxy."""

    def __init__(self, proxy_url: str, verify: Any = True) -> None:
        self.proxy_url = proxy_url.rstrip("/")
        self.verify = verify  # an ssl.SSLContext with the instance's certificate under mutual TLS
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, out: Outbound) -> httpx.Response:
        if self._client is None:
            limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
            self._client = httpx.AsyncClient(limits=limits, trust_env=False, verify=self.verify)
        headers = [(k, v) for k, v in out.headers if k != b"content-length"]
        headers += [
            (H_URL.encode(), out.url.encode()),
            (H_CALLER.encode(), out.caller.encode()),
            (H_CALLER_INSTANCE.encode(), out.caller_instance.encode()),
            (H_TRACE.encode(), out.trace_id.encode()),
        ]
        if out.timeout is not None:
            headers.append((H_TIMEOUT.encode(), repr(float(out.timeout)).encode()))
        url = f"{self.proxy_url}{out.path}" + (f"?{out.query}" if out.query else "")
        timeout = None if out.timeout is None else out.timeout + 5.0
        r = await self._client.request(out.method, url, headers=headers, content=out.body or None, timeout=timeout)
        name = r.headers.get(H_EXCEPTION)
        if name:
            detail = json.loads(r.content).get("detail", name)
            raise _EXCEPTIONS.get(name, httpx.ConnectError)(detail)
        response = httpx.Response(r.status_code, headers=r.headers.raw, content=r.content)
        response.request = httpx.Request(out.method, out.url)
        return response


class ProxyContext:
    """The child's counterpart of :class:`labsvc.core.network.InstanceContext`."""

    def __init__(self, instance: str, service: str, hop: ProxyHop) -> None:
        self.name = instance
        self.service = service
        self._hop = hop

    def client(self, trace_id: str | None = None, timeout: float | None = 5.0) -> Client:
        return Client(self._hop, self.service, caller_instance=self.name, trace_id=trace_id, timeout=timeout)
