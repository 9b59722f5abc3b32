"""Binder's recipe works: binder/environment.yml + binder/postBuild, then the landing notebook runs.

Binder builds a conda environment from binder/environment.yml and runs
binder/postBuild from the repository's root. Here the same pip pins go into a
fresh venv (pip's cache makes this quick after the first time), postBuild runs
with that venv first on PATH, and notebooks/00_start_here.ipynb is executed by
a kernel from that venv. What this cannot reproduce: conda itself, and Binder's
small container (1-2 GB of memory).
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
import yaml

pytestmark = [pytest.mark.binder, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_start_here.ipynb"

# Runs inside the Binder-like venv: execute the notebook, then one more cell
# that reports which interpreter and which labsvc the kernel used.
RUNNER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import nbformat
    from nbclient import NotebookClient

    source, executed = Path(sys.argv[1]), Path(sys.argv[2])
    nb = nbformat.read(source, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json, sys, labsvc\\n"
        "print(json.dumps({'prefix': sys.prefix, 'labsvc': labsvc.__file__}))"
    ))
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(source.parent)}})
    started = time.perf_counter()
    try:
        client.execute()
    finally:
        nbformat.write(nb, executed)
    print(f"notebook executed in {time.perf_counter() - started:.1f} s")
    """
)


def binder_pip_pins() -> list[str]:
    env = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text(encoding="utf-8"))
    pins = [item for dep in env["dependencies"] if isinstance(dep, dict) for item in dep.get("pip", [])]
    assert pins, "binder/environment.yml has no pip section"
    return [str(pin) for pin in pins]


def run(cmd, *, env, cwd, timeout, what):
    started = time.perf_counter()
    result = subprocess.run(cmd, env=env, cwd=cwd, timeout=timeout, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, (
        f"{what} failed (exit {result.returncode}):\n"
        f"--- stdout (tail) ---\n{result.stdout[-4000:]}\n--- stderr (tail) ---\n{result.stderr[-4000:]}"
    )
    return result, elapsed


def test_binder_environment_runs_the_landing_notebook(tmp_path, capsys):
    if not NOTEBOOK.exists():
        pytest.skip(f"{NOTEBOOK.relative_to(ROOT)} does not exist yet: nothing for Binder to open")

    venv = tmp_path / "binder-venv"
    bin_dir = venv / "bin"
    jupyter_home = tmp_path / "jupyter"
    # Binder-like environment: this venv first on PATH, nothing inherited from
    # the venv running pytest, Jupyter's per-user folders empty.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "JUPYTER_PATH", "MPLBACKEND", "PIP_USER"}}
    env |= {
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PIP_NO_INPUT": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "JUPYTER_CONFIG_DIR": str(jupyter_home / "config"),
        "JUPYTER_DATA_DIR": str(jupyter_home / "data"),
        "JUPYTER_RUNTIME_DIR": str(jupyter_home / "runtime"),
        "IPYTHONDIR": str(jupyter_home / "ipython"),
    }
    timings = {}

    _, timings["venv"] = run([sys.executable, "-m", "venv", str(venv)], env=env, cwd=tmp_path, timeout=120, what="python -m venv")
    python = str(bin_dir / "python")

    pins = binder_pip_pins()
    _, timings["pip install pins"] = run(
        # --no-compile: byte-compiling every installed module is most of an install's
        # time and checks nothing; the kernel compiles what it imports.
        [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-compile", *pins],
        env=env, cwd=tmp_path, timeout=1800, what="pip install of binder/environment.yml's pins",
    )

    _, timings["postBuild"] = run(["bash", str(ROOT / "binder" / "postBuild")], env=env, cwd=ROOT, timeout=600, what="binder/postBuild")
    where, _ = run(
        [python, "-c", "import labsvc, sys; print(labsvc.__file__)"], env=env, cwd=tmp_path, timeout=60, what="import labsvc"
    )
    assert Path(where.stdout.strip()).resolve().is_relative_to((ROOT / "labsvc").resolve()), "postBuild did not install this checkout's labsvc"
    overrides = venv / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert overrides.is_file(), "postBuild did not put JupyterLab's overrides.json under the environment's prefix"
    assert json.loads(overrides.read_text()) == json.loads((ROOT / "binder" / "overrides.json").read_text())

    runner = tmp_path / "run_notebook.py"
    runner.write_text(RUNNER, encoding="utf-8")
    executed = tmp_path / NOTEBOOK.name
    result, timings["notebook (incl. kernel start)"] = run(
        [python, str(runner), str(NOTEBOOK), str(executed)], env=env, cwd=ROOT, timeout=900, what=f"executing {NOTEBOOK.name}"
    )

    nb = nbformat.read(executed, as_version=4)
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs if out.output_type == "error"]
    assert not errors, f"{NOTEBOOK.name} raised: {errors[0].ename}: {errors[0].evalue}"
    probe = json.loads(nb.cells[-1].outputs[0].text.strip().splitlines()[-1])
    assert Path(probe["prefix"]).resolve() == venv.resolve(), f"the kernel ran in {probe['prefix']}, not the Binder venv"
    assert Path(probe["labsvc"]).resolve().is_relative_to((ROOT / "labsvc").resolve())

    shutil.rmtree(venv, ignore_errors=True)  # several hundred MB; kept only when the test fails
    with capsys.disabled():
        print(f"\n[binder] Python {sys.version.split()[0]}, {len(pins)} pins; " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + f"; {result.stdout.strip()}")
