"""JupyterLab's settings overrides (binder/overrides.json): valid for the pinned JupyterLab, news and update checks off.

`make install` copies the file to ``.venv/share/jupyter/lab/settings/`` and binder/postBuild to the
environment's prefix (tests/test_binder.py checks that one); JupyterLab reads overrides from
``{sys.prefix}/share/jupyter/lab/settings/overrides.json``.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OVERRIDES = json.loads((ROOT / "binder" / "overrides.json").read_text(encoding="utf-8"))
SCHEMAS = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"


def test_news_and_update_checks_are_off():
    notification = OVERRIDES["@jupyterlab/apputils-extension:notification"]
    assert notification == {"fetchNews": "false", "checkForUpdates": False}


def test_every_override_is_a_setting_the_installed_jupyterlab_knows_with_an_allowed_value():
    for plugin, values in OVERRIDES.items():
        package, name = plugin.split(":")
        schema = json.loads((SCHEMAS / package / f"{name}.json").read_text(encoding="utf-8"))
        for key, value in values.items():
            prop = schema["properties"].get(key)
            assert prop is not None, f"{plugin} has no setting {key!r}"
            allowed = [choice["const"] for choice in prop.get("oneOf", [])]
            assert (value in allowed) if allowed else isinstance(value, {"boolean": bool, "string": str}[prop["type"]])


def test_the_installed_environment_carries_the_overrides_when_installed_by_make():
    installed = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    if Path(sys.prefix).resolve() == (ROOT / ".venv").resolve():
        assert json.loads(installed.read_text(encoding="utf-8")) == OVERRIDES, "run `make install`"
