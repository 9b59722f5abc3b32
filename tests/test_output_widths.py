"""Nothing a notebook shows is cut off on a 1280-px screen, and nothing is shown raw that should be a table.

Every English notebook, as executed by this session's notebook runs (the
last of its two passes; see tests/conftest.py), is saved with its outputs and
opened in JupyterLab in Chromium at 1280 x 900 (the default layout: file
browser open), without running anything. For each output area the test
measures whether anything in it (a table, a pre block, an image) is wider than
the area, so that JupyterLab would cut it off behind a scroll bar. It also
reads the saved outputs for two habits that make a result hard to read: a
DataFrame or Series shown inside a raw tuple (its text printed, not its table),
and table cells that pandas shortened with "...".

The Korean edition runs the same code with Korean labels, which can be wider: its notebooks (one pass
each, shared with tests/test_korean_notebooks.py) are opened the same way.
"""

import re
import time
from pathlib import Path

import nbformat
import pytest

from browser_lab import CHROMIUM, CHROMIUM_ARGS, serve_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = (sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
             + sorted((ROOT / "notebooks" / "ko").glob("[0-9][0-9]_*.ipynb")))

WIDE_OUTPUTS_JS = """
(name) => {
  const found = [];
  const panel = window.jupyterapp.shell.currentWidget;  // the notebook just opened, not one in another tab
  if (!panel || !panel.context || !panel.context.path.endsWith(name)) return null;
  panel.node.querySelectorAll('.jp-Notebook .jp-Cell').forEach((cell, index) => {
    cell.querySelectorAll('.jp-OutputArea-output').forEach(area => {
      const room = area.clientWidth;
      let widest = area.scrollWidth;
      area.querySelectorAll('table, pre, img, svg').forEach(e => { widest = Math.max(widest, e.getBoundingClientRect().width); });
      if (widest > room + 2) found.push({index, width: Math.round(widest), room, text: area.innerText.slice(0, 100)});
    });
  });
  return found;
}
"""
RENDERED_CELLS_JS = """
(name) => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.context || !panel.context.path.endsWith(name)) return 0;
  return panel.node.querySelectorAll('.jp-Notebook .jp-Cell').length;
}
"""
_SHORTENED = re.compile(r"<td>[^<]{3,}\.\.\.</td>")


def raw_and_shortened(nb) -> list[str]:
    """Outputs that show a table's text inside a tuple, or table cells pandas cut with '...'."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {})
            plain, page = data.get("text/plain", ""), data.get("text/html", "")
            if out.get("output_type") == "execute_result" and not page and plain.startswith("(") and plain.count("\n") >= 3:
                found.append(f"cell {cell.get('id')}: a tuple printed raw ({plain[:60]!r}...); display each part as a table")
            if _SHORTENED.search(page):
                found.append(f"cell {cell.get('id')}: table cells cut with '...' ({_SHORTENED.search(page).group(0)[:60]})")
            if out.get("output_type") == "stream" and out.get("name") == "stderr" and "Traceback" in out.get("text", ""):
                found.append(f"cell {cell.get('id')}: a traceback on stderr")
    return found


@pytest.fixture(scope="session")  # session: with pytest-xdist a worker runs other modules between two notebooks
def executed_folder(tmp_path_factory):
    """The folder JupyterLab serves; each test saves its notebook there, with its outputs."""
    return tmp_path_factory.mktemp("executed")


@pytest.fixture(scope="session")
def lab_server(executed_folder, tmp_path_factory):
    """One JupyterLab for the session (a process of its own: it leaves this one's event loops alone)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium to run the browser checks")
    with serve_lab(tmp_path_factory.mktemp("lab-home"), executed_folder) as (base_url, token):
        yield base_url, token


@pytest.fixture
def lab_page(lab_server):
    """A Chromium page at 1280 x 900 for one test. Playwright's sync API runs an event loop in this thread
    while it is open, so it is closed after each test: later tests (asyncio.run) need the thread free."""
    from playwright.sync_api import sync_playwright

    base_url, token = lab_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900}), base_url, token
        finally:
            browser.close()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_no_output_is_wider_than_its_cell_at_1280_px(path, executed_folder, lab_page, notebook_runs):
    run = notebook_runs.get(path, kernel=False)  # already run in a full session (tests/notebooks/ comes first)
    notebook_runs.release(path)
    if not run.ok or run.executed is None:
        pytest.fail(f"{path.name} did not run cleanly in this session: {run.report()}")
    nb = run.executed
    where = path.relative_to(ROOT / "notebooks").as_posix()  # 01_x.ipynb, or ko/01_x.ipynb
    (executed_folder / where).parent.mkdir(exist_ok=True)
    nbformat.write(nb, executed_folder / where)
    page, base_url, token = lab_page
    page.goto(f"{base_url}/lab/tree/{where}?token={token}", wait_until="domcontentloaded", timeout=60_000)
    deadline = time.monotonic() + 60
    while page.evaluate(RENDERED_CELLS_JS, path.name) < len(nb.cells):
        assert time.monotonic() < deadline, f"{path.name} did not render all {len(nb.cells)} cells"
        page.wait_for_timeout(250)
    page.wait_for_timeout(1500)  # images and Mermaid settle
    wide = [f"cell {nb.cells[w['index']].get('id')}: {w['width']} px in {w['room']} px ({w['text'][:60]!r})"
            for w in page.evaluate(WIDE_OUTPUTS_JS, path.name)]
    problems = wide + raw_and_shortened(nb)
    assert not problems, f"{path.name} at 1280 px:\n" + "\n".join(problems)


def test_the_habits_check_finds_a_raw_tuple_and_cut_cells():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("execute_result", data={"text/plain": "(   a  b\n0  1  2\n1  3  4\n2  5  6, 3)"}),
        nbformat.v4.new_output("execute_result", data={"text/plain": "t", "text/html": "<td>a long policy descr...</td>"}),
    ])])
    nb.cells[0]["id"] = "c1"
    found = raw_and_shortened(nb)
    assert len(found) == 2 and "tuple printed raw" in found[0] and "cut with" in found[1]
