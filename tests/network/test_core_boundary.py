"""The core stands alone: labsvc.core imports nothing from the floors above it."""

import ast
import subprocess
import sys
from pathlib import Path

import labsvc

PACKAGE = Path(labsvc.__file__).parent
CORE = PACKAGE / "core"


def _imports(path: Path, module: str) -> set[str]:
    """Every labsvc module ``path`` imports, at any depth of the file (function-level imports included)."""
    is_package = path.name == "__init__.py"
    base = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                target = ".".join(base[: len(base) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}
    return {name for name in found if name == "labsvc" or name.startswith("labsvc.")}


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").exists() or (PACKAGE.parent / rel / "__init__.py").exists()


def test_no_core_module_imports_a_labsvc_module_outside_the_core():
    leaving = []
    for path in sorted(CORE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        for target in _imports(path, module):
            if _is_module(target) and target != "labsvc" and not target.startswith("labsvc.core"):
                leaving.append(f"{module} imports {target}")
    assert leaving == []
    assert len(list(CORE.glob("*.py"))) >= 15  # the walk saw the core


def test_importing_the_core_and_running_a_network_loads_no_labsvc_module_from_outside_it():
    code = (
        "import asyncio, sys\n"
        "from fastapi import FastAPI\n"
        "from labsvc.core.network import Network\n"
        "app = FastAPI()\n"
        "@app.get('/x')\n"
        "def x(): return {'ok': True}\n"
        "async def main():\n"
        "    net = Network(seed=1)\n"
        "    net.add('a', app)\n"
        "    async with net:\n"
        "        assert (await net.client().get('http://a.svc/x')).status_code == 200\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.startswith('labsvc')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = eval(out.strip().splitlines()[-1])  # noqa: S307 - our own child's printed list
    outside = [m for m in loaded if m != "labsvc" and not m.startswith("labsvc.core")]
    assert "labsvc.core.network" in loaded
    assert outside == []
