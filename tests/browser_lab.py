"""JupyterLab in Chromium for the browser tests: a server on 127.0.0.1 with empty per-user folders.

Shared by tests/test_browser.py and tests/test_output_widths.py (``pythonpath = ["tests"]`` in pyproject.toml).
"""

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_S = 60

# Settings a fresh JupyterLab reads from its (temporary) user-settings folder:
# never save (the committed notebook stays without outputs), render every cell
# (no windowing, so every output is in the page), and ask the internet for no
# news or updates.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"JUPYTER_PATH", "MPLBACKEND", "PYTHONPATH"}}
    env |= {
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "lab-workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    for relpath, settings in LAB_SETTINGS.items():
        path = home / "lab-settings" / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings), encoding="utf-8")
    return env


def stop(server: subprocess.Popen) -> None:
    """Stop the server and every process it started (kernels run in sessions of their own)."""
    try:
        started = psutil.Process(server.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        started = []
    if server.poll() is None:
        server.terminate()  # jupyter_server shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    _, alive = psutil.wait_procs(started, timeout=10)
    for proc in alive:
        proc.kill()
    psutil.wait_procs(alive, timeout=5)


@contextlib.contextmanager
def serve_lab(tmp_path: Path, root_dir: Path):
    """Run ``jupyter lab`` on 127.0.0.1 serving ``root_dir`` (settings and log in ``tmp_path``); yield (base_url, token)."""
    port, token = free_port(), secrets.token_hex(16)
    log_path = tmp_path / "jupyter-lab.log"
    cmd = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]  # fmt: skip
    if os.geteuid() == 0:  # CI and containers run as root; Jupyter refuses that unless told
        cmd.append("--allow-root")
    with open(log_path, "wb") as log:
        server = subprocess.Popen(cmd, cwd=ROOT, env=lab_env(tmp_path / "jupyter"), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            assert server.poll() is None, f"jupyter lab exited ({server.returncode}):\n{log_path.read_text()[-3000:]}"
            request = urllib.request.Request(f"{base_url}/api/status", headers={"Authorization": f"token {token}"})
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, f"jupyter lab not ready after {SERVER_START_S} s:\n{log_path.read_text()[-3000:]}"
            time.sleep(0.25)
        yield base_url, token
    finally:
        stop(server)
