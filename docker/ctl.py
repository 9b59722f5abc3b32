"""The Docker side of ``make compose-test``: the engine, Compose (v2 or v1), the image, the containers.

Every command runs with a time limit; a failure raises :class:`Failed` with
one line that says what went wrong and what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASE_SCRIPT = ROOT / "docker" / "base-image.sh"
DEFAULT_BASE = "python:3.11-slim"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "labsvc" / "compose-test"


class Failed(Exception):
    """A step failed; the message is the one line the test prints."""


class Skipped(Exception):
    """Nothing can be checked on this machine (no Docker engine); the message says why."""


def run(cmd: list[str], *, timeout: float = 120, check: bool = True, env: dict | None = None,
        what: str = "", **kw: Any) -> subprocess.CompletedProcess:
    """Run ``cmd`` with a time limit; with ``check``, a non-zero exit raises :class:`Failed` naming ``what``."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})}, **kw)
    except subprocess.TimeoutExpired:
        raise Failed(f"{what or cmd[0]} took longer than {timeout:g} s: {' '.join(cmd[:6])}") from None
    except FileNotFoundError:
        raise Failed(f"{cmd[0]} is not installed ({what or ' '.join(cmd[:3])})") from None
    if check and proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        raise Failed(f"{what or ' '.join(cmd[:3])} failed: {tail[-1] if tail else f'exit {proc.returncode}'}")
    return proc


# ------------------------------------------------------------------ the engine
class Engine:
    """The Docker engine this test talks to; started here (and stopped at the end) when it was not running."""

    def __init__(self) -> None:
        self.started: subprocess.Popen | None = None

    def ensure(self, deadline: float = 60.0) -> None:
        if shutil.which("docker") is None:
            raise Skipped("no docker command on this machine (apt-get install -y docker.io docker-compose)")
        if self._answers():
            return
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise Skipped("no Docker engine here: the docker client is installed but dockerd is not")
        if os.geteuid() != 0:
            raise Skipped("the Docker engine is not running, and only root can start dockerd here")
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        log = open(CACHE.parent / "dockerd.log", "a")
        self.started = subprocess.Popen([dockerd], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.started.poll() is not None:
                raise Skipped(f"dockerd cannot run on this machine (it exited with {self.started.returncode}; "
                              f"see {CACHE.parent / 'dockerd.log'})")
            if self._answers():
                return
            time.sleep(0.5)
        self.stop()
        raise Skipped(f"dockerd did not answer within {deadline:g} s (see {CACHE.parent / 'dockerd.log'})")

    @staticmethod
    def _answers() -> bool:
        try:
            return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
        except (subprocess.TimeoutExpired, FileNotFoundError):
            return False

    def stop(self) -> None:
        """Stop the dockerd this test started (a running engine it found is left running)."""
        if self.started is not None and self.started.poll() is None:
            self.started.send_signal(signal.SIGTERM)
            try:
                self.started.wait(30)
            except subprocess.TimeoutExpired:
                self.started.kill()
                self.started.wait()
        self.started = None

    @staticmethod
    def versions() -> dict[str, str]:
        server = run(["docker", "version", "--format", "{{.Server.Version}}"], check=False).stdout.strip()
        client = run(["docker", "version", "--format", "{{.Client.Version}}"], check=False).stdout.strip()
        return {"docker_engine": server, "docker_client": client}


# ------------------------------------------------------------------ compose
class Compose:
    """``docker compose`` (v2) where the plugin is installed, else ``docker-compose`` (v1)."""

    def __init__(self, project: str, file: Path, env: dict[str, str]) -> None:
        self.project, self.file, self.env = project, file, env
        if run(["docker", "compose", "version"], check=False, timeout=30).returncode == 0:
            self.base, self.flavour = ["docker", "compose"], "v2"
        elif shutil.which("docker-compose"):
            self.base, self.flavour = ["docker-compose"], "v1"
        else:
            raise Skipped("neither 'docker compose' (v2) nor 'docker-compose' (v1) is installed")
        self.version = run(self.base + ["version", "--short"], check=False, timeout=30).stdout.strip()

    def __call__(self, *args: str, timeout: float = 300, check: bool = True, what: str = "") -> subprocess.CompletedProcess:
        return run(self.base + ["-p", self.project, "-f", str(self.file), *args], timeout=timeout, check=check,
                   env=self.env, what=what or f"compose {args[0]}")

    def containers(self) -> dict[str, str]:
        """Service name -> container id, for every container of the project (running or not)."""
        out = run(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={self.project}",
                   "--format", '{{.ID}} {{.Label "com.docker.compose.service"}}'], timeout=30).stdout
        return {svc: cid for cid, svc in (line.split() for line in out.splitlines() if line.strip())}


def inspect(container: str) -> dict:
    return json.loads(run(["docker", "inspect", container], timeout=30, what="docker inspect").stdout)[0]


def state(container: str) -> dict[str, Any]:
    """Status, health, restart count and main PID of a container."""
    info = inspect(container)
    st = info["State"]
    return {"status": st["Status"], "health": (st.get("Health") or {}).get("Status", "none"),
            "restarts": info.get("RestartCount", 0), "pid": st.get("Pid", 0), "exit": st.get("ExitCode")}


def last_error(container: str) -> str:
    """The most telling line of a container's log: its last error, else its last line."""
    proc = run(["docker", "logs", "--tail", "40", container], check=False, timeout=30)
    lines = [line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error:" in line]
    return (errors or lines or ["(no output)"])[-1][:300]


def wait_healthy(compose: Compose, expected: int, deadline: float) -> dict[str, str]:
    """Poll ``docker inspect`` until ``expected`` containers are healthy; a container that keeps exiting fails at once."""
    end = time.monotonic() + deadline
    states: dict[str, dict] = {}
    while time.monotonic() < end:
        containers = compose.containers()
        states = {svc: state(cid) for svc, cid in containers.items()}
        for svc, st in states.items():
            if st["status"] in ("exited", "dead") or (st["restarts"] >= 2 and st["health"] != "healthy"):
                raise Failed(f"service {svc} exits at start ({last_error(containers[svc])}); check the app in its "
                             f"command (docker logs {containers[svc][:12]})")
        if len(states) == expected and all(st["health"] == "healthy" for st in states.values()):
            return containers
        time.sleep(1.0)
    waiting = sorted(svc for svc, st in states.items() if st["health"] != "healthy")
    raise Failed(f"not healthy within {deadline:g} s: {', '.join(waiting) or 'no container started'}")


# ------------------------------------------------------------------ the image
def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_image() -> tuple[str, str]:
    """The base image to build on, and how it was had: ``BASE_IMAGE``, a local python:3.11-slim, or the local Debian one."""
    given = os.environ.get("BASE_IMAGE")
    if given:
        return given, "given (BASE_IMAGE)"
    if run(["docker", "image", "inspect", DEFAULT_BASE], check=False, timeout=30).returncode == 0:
        return DEFAULT_BASE, "found locally"
    existed = run(["docker", "image", "inspect", "labsvc-base:" + _codename()], check=False, timeout=30).returncode == 0
    proc = run(["bash", str(BASE_SCRIPT)], timeout=900, check=False)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise Failed(lines[-1] if lines else "docker/base-image.sh failed")
    return proc.stdout.strip().splitlines()[-1], "cached, reused" if existed else "built from Debian packages"


def _codename() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "unknown"


def image_python(base: str) -> str:
    """``3.11``: the Python version of ``base`` (its wheels must match it)."""
    proc = run(["docker", "run", "--rm", "--network", "none", base, "python3", "-c",
                "import sys; print('%d.%d' % sys.version_info[:2])"], timeout=120, what=f"python3 in {base}")
    return proc.stdout.strip()


def wheelhouse(requirements: Path, python: str) -> tuple[Path, str]:
    """Every wheel the image needs for ``requirements`` on Python ``python``, downloaded once and cached."""
    text = requirements.read_text()
    machine = platform.machine()
    key = hashlib.sha256(f"{text}|{python}|{machine}".encode()).hexdigest()[:16]
    folder = CACHE / f"wheels-{key}"
    if (folder / ".complete").exists():
        return folder, "cached, reused"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    glibc = [f"manylinux_2_{n}_{machine}" for n in range(17, 37)]
    platforms = [a for p in (["manylinux2014_" + machine, "linux_" + machine] + glibc) for a in ("--platform", p)]
    run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet", "--only-binary=:all:",
         "--python-version", python, *platforms, "--dest", str(folder), "-r", str(requirements)],
        timeout=600, what="pip download of the services' wheels")
    (folder / ".complete").write_text(text)
    return folder, "downloaded"


def labsvc_wheel(dest: Path) -> Path:
    """labsvc itself as a wheel, reproducible (the same source gives the same bytes, so Docker's cache holds)."""
    before = set(dest.glob("labsvc-*.whl"))
    run([sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--quiet", "--no-deps",
         "--wheel-dir", str(dest), str(ROOT)], timeout=300, env={"SOURCE_DATE_EPOCH": "315532800"},
        what="pip wheel of labsvc")
    made = sorted(set(dest.glob("labsvc-*.whl")) - before) or sorted(dest.glob("labsvc-*.whl"))
    if not made:
        raise Failed("pip wheel made no labsvc wheel")
    return made[-1]


def stage_context(context: Path, export: Path, wheels: Path) -> None:
    """The build context: the project's sources, the export's requirements.txt, and the wheelhouse."""
    context.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, context / name)
    shutil.copytree(ROOT / "labsvc", context / "labsvc", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(export / "requirements.txt", context / "requirements.txt")
    (context / "wheels").mkdir()
    for wheel in wheels.glob("*.whl"):
        try:
            os.link(wheel, context / "wheels" / wheel.name)
        except OSError:
            shutil.copy2(wheel, context / "wheels" / wheel.name)
    labsvc_wheel(context / "wheels")


def build(tag: str, dockerfile: Path, context: Path, base: str) -> float:
    """Build the image; a failure names the first error the build printed (pip's, typically)."""
    start = time.monotonic()
    # --force-rm: a failed step leaves no container behind (and so its images can be removed).
    proc = run(["docker", "build", "-q", "--force-rm", "-t", tag, "-f", str(dockerfile), "--build-arg", f"BASE_IMAGE={base}",
                "--build-arg", "WHEELHOUSE=wheels", "--build-arg", "REQUIREMENTS=requirements.txt", str(context)], timeout=900, check=False)
    if proc.returncode != 0:
        text = re.sub(r"\x1b\[[0-9;]*m", "", proc.stderr + "\n" + proc.stdout)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR:") or "error:" in line.lower()]
        why = (errors or lines or ["no output"])[0]
        raise Failed(f"docker build failed: {why[:300]} (base image {base}; the build runs without an index "
                     f"when a wheelhouse is given, so every requirement must be in it)")
    return time.monotonic() - start


def image_ids() -> set[str]:
    """Every image on the engine, intermediate ones included."""
    return set(run(["docker", "images", "-aq", "--no-trunc"], check=False, timeout=60).stdout.split())


def untagged(ids: set[str]) -> set[str]:
    """Those of ``ids`` that have no tag (a build's stages and steps); tagged ones (the base image) are kept."""
    out = set()
    for image in ids:
        tags = run(["docker", "image", "inspect", "-f", "{{len .RepoTags}}", image], check=False, timeout=30)
        if tags.returncode == 0 and tags.stdout.strip() == "0":
            out.add(image)
    return out


def remove_images(ids: set[str]) -> None:
    """Remove the images a build left (stage images and their steps), children before parents."""
    for _ in range(4):
        left = ids & image_ids()
        if not left:
            return
        for image in left:
            run(["docker", "rmi", image], check=False, timeout=60)


def leftovers(project: str, tag: str, built: set[str] = frozenset()) -> list[str]:
    """What of this test is still on the engine: containers, networks, volumes, the image tag, build leftovers."""
    found = [f"image {i.split(':')[-1][:12]}" for i in built & image_ids()]
    label = f"label=com.docker.compose.project={project}"
    for kind, cmd in (("container", ["docker", "ps", "-aq", "--filter", label]),
                      ("network", ["docker", "network", "ls", "-q", "--filter", f"name={project}_"]),
                      ("volume", ["docker", "volume", "ls", "-q", "--filter", f"name={project}_"]),
                      ("image", ["docker", "images", "-q", tag])):
        out = run(cmd, check=False, timeout=30).stdout.split()
        found += [f"{kind} {x[:24]}" for x in out]
    return found
