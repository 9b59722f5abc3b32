"""A learner's first minute: JupyterLab opens the landing notebook, Run All works, plots and widgets show.

Starts `jupyter lab` on 127.0.0.1 with a known token and empty per-user
folders, drives Debian's Chromium with Playwright through the menus
(Run > Run All Cells), and checks what a person would see: no traceback, at
least one plot, at least one live ipywidget. A screenshot is saved and its
path printed.

The Korean edition's landing notebook gets the same run, and a check that its
Korean text is drawn with a font that has Hangul, not as empty boxes (see
test_korean_landing_notebook_shows_hangul_not_boxes).

A sequence diagram (labsvc.observability.sequence_diagram) in a notebook written
for the test must be drawn by JupyterLab's own Mermaid renderer, not shown as
Mermaid source (test_a_sequence_diagram_is_drawn_by_jupyterlabs_mermaid_renderer).
"""

import json
import re
import time
from pathlib import Path

import pytest

from browser_lab import CHROMIUM, CHROMIUM_ARGS, serve_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_start_here.ipynb"
RUN_ALL_S = 120

# The open notebook as JupyterLab holds it (window.jupyterapp is exposed by
# --LabApp.expose_app_in_browser): kernel state, prompts, and the saved form.
NOTEBOOK_STATE_JS = """
(name) => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.context || !panel.context.path.endsWith(name) || !panel.content.model) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const prompts = [...panel.node.querySelectorAll('.jp-InputArea-prompt')].map(e => e.textContent);
  return {
    kernel: kernel ? kernel.status : null,
    running: prompts.filter(t => t.includes('*')).length,
    notebook: panel.content.model.toJSON(),
  };
}
"""


@pytest.fixture
def jupyter_lab(tmp_path):
    """A JupyterLab server on 127.0.0.1 serving the repository; yields (base_url, token)."""
    with serve_lab(tmp_path, ROOT) as server:
        yield server


@pytest.fixture
def jupyter_lab_in_tmp(tmp_path):
    """A JupyterLab server serving ``tmp_path / "lab"`` (for notebooks a test writes); yields (base_url, token, folder)."""
    folder = tmp_path / "lab"
    folder.mkdir()
    with serve_lab(tmp_path, folder) as (base_url, token):
        yield base_url, token, folder


def wait_for(page, what, predicate, timeout_s, name=NOTEBOOK.name):
    """Poll the notebook's state until predicate(state) holds; fail with the last state after timeout_s."""
    deadline = time.monotonic() + timeout_s
    state = None
    while time.monotonic() < deadline:
        state = page.evaluate(NOTEBOOK_STATE_JS, name)
        if state is not None and predicate(state):
            return state
        page.wait_for_timeout(250)
    summary = state and {k: v for k, v in state.items() if k != "notebook"}
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}; last state {summary}")


def code_cells(state):
    return [cell for cell in state["notebook"]["cells"] if cell["cell_type"] == "code"]


def finished(state):
    """Run All is over: kernel idle, no [*] prompt, and every code cell ran or one failed."""
    cells = code_cells(state)
    failed = any(out["output_type"] == "error" for cell in cells for out in cell.get("outputs", []))
    ran_all = all(cell.get("execution_count") is not None for cell in cells if cell["source"].strip())
    return state["kernel"] == "idle" and state["running"] == 0 and (ran_all or failed)


def test_landing_notebook_runs_in_jupyterlab(request, tmp_path, capsys):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (e.g. `apt-get install chromium`) to run the browser test")
    if not NOTEBOOK.exists():
        pytest.skip(f"{NOTEBOOK.relative_to(ROOT)} does not exist yet: nothing to open in JupyterLab")
    base_url, token = request.getfixturevalue("jupyter_lab")
    from playwright.sync_api import sync_playwright

    committed = NOTEBOOK.read_bytes()
    started = time.perf_counter()
    screenshot = tmp_path / f"{NOTEBOOK.stem}.png"
    url = f"{base_url}/lab/tree/{NOTEBOOK.relative_to(ROOT).as_posix()}?token={token}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page_errors = []
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.goto(url, wait_until="domcontentloaded", timeout=60_000)
            page.locator(".jp-NotebookPanel .jp-Notebook").first.wait_for(timeout=60_000)
            wait_for(page, "the kernel to be idle", lambda s: s["kernel"] == "idle", 60)

            # As a learner would: Run > Run All Cells.
            page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
            page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
            wait_for(page, "Run All to start", lambda s: s["running"] > 0 or any(c.get("execution_count") for c in code_cells(s)), 30)
            state = wait_for(page, "Run All to finish", finished, RUN_ALL_S)
            elapsed = time.perf_counter() - started
            page.wait_for_timeout(500)  # let the last outputs paint before looking
            page.screenshot(path=str(screenshot), full_page=True)

            errors = [
                f"{out['ename']}: {out['evalue']}"
                for cell in code_cells(state)
                for out in cell.get("outputs", [])
                if out["output_type"] == "error"
            ]
            assert not errors, f"cells raised {errors} (screenshot {screenshot})"
            stderr = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
            tracebacks = [text for text in stderr if "Traceback" in text]
            assert not tracebacks, f"a traceback was shown: {tracebacks[0][:2000]} (screenshot {screenshot})"
            assert page.locator(".jp-OutputArea-output.jp-RenderedImage img").count() >= 1, f"no plot was shown (screenshot {screenshot})"
            widgets = page.locator('.jp-OutputArea-output .jupyter-widgets[class*="widget-"]')
            assert widgets.count() >= 1, f"no ipywidget was rendered (screenshot {screenshot})"
            widget_text = " ".join(page.locator(".jp-OutputArea-output").all_inner_texts())
            assert "Error displaying widget" not in widget_text, f"a widget failed to render (screenshot {screenshot})"
            # The Studio dashboard: a row per instance with its crash button, and the load button.
            studio = page.locator(".jp-OutputArea-output .widget-vbox", has_text="Studio").last
            assert studio.count() == 1, f"the Studio dashboard was not rendered (screenshot {screenshot})"
            studio.screenshot(path=str(tmp_path / "studio.png"))
            assert studio.locator("button", has_text="send load").count() == 1
            assert studio.locator("button", has_text="crash").count() >= 2
        finally:
            browser.close()
    assert NOTEBOOK.read_bytes() == committed, f"{NOTEBOOK.name} was saved during the test; restore it without outputs"

    with capsys.disabled():
        print(f"\n[browser] opened and ran all cells in {elapsed:.1f} s; screenshot: {screenshot}")
        if page_errors:
            print(f"[browser] JavaScript errors in the page: {page_errors[:5]}")


KO_NOTEBOOK = ROOT / "notebooks" / "ko" / "00_start_here.ipynb"

# Draw each string on a canvas in the element's own font and return its pixels as a short signature.
# A glyph no font has is drawn as the same empty box whatever the character, so different Hangul
# syllables with identical pixels, or pixels identical to a private-use character's, mean "boxes".
GLYPH_SIGNATURES_JS = """
([selector, texts]) => {
  const el = document.querySelector(selector);
  const style = getComputedStyle(el);
  const canvas = document.createElement('canvas');
  canvas.width = 64; canvas.height = 64;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  ctx.font = `${style.fontWeight} 40px ${style.fontFamily}`;
  return {fontFamily: style.fontFamily, signatures: texts.map(t => {
    ctx.clearRect(0, 0, 64, 64);
    ctx.fillText(t, 4, 48);
    const data = ctx.getImageData(0, 0, 64, 64).data;
    let ink = 0, hash = 0;
    for (let i = 3; i < data.length; i += 4) { if (data[i]) { ink++; hash = (hash * 31 + i * data[i]) | 0; } }
    return `${ink}:${hash}`;
  })};
}
"""
HANGUL_SAMPLES = ["가", "한", "국", "를", "실"]
NO_GLYPH = "\ue000"  # a private-use character: no font has it, so it shows the empty box


def platform_fonts(page, selector):
    """The fonts Chromium really drew ``selector``'s text with (DevTools' "Rendered Fonts"), as {family: glyphs}."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, f"no element {selector!r} in the page"
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return {f["familyName"]: f["glyphCount"] for f in fonts}


def test_korean_landing_notebook_shows_hangul_not_boxes(request, tmp_path, capsys):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium, fonts-noto-cjk and fonts-noto-color-emoji to run the browser test")
    if not KO_NOTEBOOK.exists():
        pytest.skip(f"{KO_NOTEBOOK.relative_to(ROOT)} does not exist yet")
    base_url, token = request.getfixturevalue("jupyter_lab")
    from playwright.sync_api import sync_playwright

    committed = KO_NOTEBOOK.read_bytes()
    screenshot = tmp_path / f"ko_{KO_NOTEBOOK.stem}.png"
    url = f"{base_url}/lab/tree/{KO_NOTEBOOK.relative_to(ROOT).as_posix()}?token={token}"
    name = f"ko/{KO_NOTEBOOK.name}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url, wait_until="domcontentloaded", timeout=60_000)
            page.locator(".jp-NotebookPanel .jp-Notebook").first.wait_for(timeout=60_000)
            wait_for(page, "the kernel to be idle", lambda s: s["kernel"] == "idle", 60, name)
            page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
            page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
            wait_for(page, "Run All to start", lambda s: s["running"] > 0 or any(c.get("execution_count") for c in code_cells(s)), 30, name)
            state = wait_for(page, "Run All to finish", finished, RUN_ALL_S, name)
            page.wait_for_timeout(500)
            page.screenshot(path=str(tmp_path / f"ko_{KO_NOTEBOOK.stem}_end.png"), full_page=True)

            errors = [f"{o['ename']}: {o['evalue']}" for c in code_cells(state) for o in c.get("outputs", []) if o["output_type"] == "error"]
            assert not errors, f"cells raised {errors} (screenshot {screenshot})"

            # The title (a Korean h1) and the exercise feedback, which the language cell switched to Korean.
            heading = ".jp-RenderedMarkdown h1"
            assert "시작하기" in page.locator(heading).first.inner_text()
            feedback = page.locator(".jp-OutputArea-output div", has_text="❌ 아직").first
            assert feedback.count() == 1, f"no Korean exercise feedback shown (screenshot {screenshot})"
            feedback.scroll_into_view_if_needed()
            feedback.screenshot(path=str(tmp_path / "ko_feedback.png"))
            page.locator(heading).first.scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            page.screenshot(path=str(screenshot))  # the title and overview, where a box would show first

            fonts = platform_fonts(page, heading)
            cjk = {family: n for family, n in fonts.items() if "CJK" in family or "Nanum" in family}
            assert cjk, f"the Korean heading was drawn with {fonts}, none of them a CJK font (screenshot {screenshot})"

            drawn = page.evaluate(GLYPH_SIGNATURES_JS, [heading, [*HANGUL_SAMPLES, NO_GLYPH]])
            *hangul, box = drawn["signatures"]
            assert len(set(hangul)) == len(HANGUL_SAMPLES), f"Hangul syllables look alike (boxes) in {drawn['fontFamily']}: {hangul}"
            assert box not in hangul, f"Hangul is drawn like a missing glyph in {drawn['fontFamily']} (screenshot {screenshot})"

            # The verdict label: Hangul and the ✅/❌ marks (an emoji font: Debian's fonts-noto-color-emoji).
            label = '.jp-OutputArea-output div[style*="border-left"] b'
            label_fonts = platform_fonts(page, label)
            assert any("CJK" in f or "Nanum" in f for f in label_fonts), f"feedback label drawn with {label_fonts} (screenshot {screenshot})"
            *marks, box = page.evaluate(GLYPH_SIGNATURES_JS, [label, ["❌", "✅", NO_GLYPH]])["signatures"]
            assert box not in marks, f"the ✅/❌ marks show as boxes: install an emoji font (fonts-noto-color-emoji) (screenshot {screenshot})"
        finally:
            browser.close()
    assert KO_NOTEBOOK.read_bytes() == committed, f"{KO_NOTEBOOK.name} was saved during the test; restore it without outputs"
    with capsys.disabled():
        print(f"\n[browser] Korean notebook: heading drawn with {cjk}; screenshot: {screenshot}")


# One cell: two services, one call through both, and the diagram of that call's trace.
SEQUENCE_CELL = '''\
from fastapi import Request
from labsvc import Network, create_service, http
from labsvc.observability import sequence_diagram

def storefront():
    app = create_service("storefront")

    @app.get("/page")
    async def page(request: Request):
        return (await http(request).get("http://warehouse.svc/stock")).json()

    return app

def warehouse():
    app = create_service("warehouse")

    @app.get("/stock")
    async def stock():
        return {"items": 3}

    return app

net = Network(seed=0, name="browser-sequence")
net.add("storefront", storefront)
net.add("warehouse", warehouse)
async with net:
    await net.client("shopper").get("http://storefront.svc/page")
sequence_diagram(net, trace=-1)
'''
PARTICIPANTS = ["shopper", "storefront", "warehouse"]

# The SVG inside an <img src="data:image/svg+xml,...">: its size as drawn, Mermaid's diagram type, its texts.
SVG_OF_IMG_JS = """
(img) => {
  const source = decodeURIComponent(img.getAttribute('src').replace(/^data:image\\/svg\\+xml(;charset=[^,]*)?,/, ''));
  const svg = new DOMParser().parseFromString(source, 'image/svg+xml').querySelector('svg');
  return {
    loaded: img.complete && img.naturalWidth > 0,
    width: img.getBoundingClientRect().width,
    height: img.getBoundingClientRect().height,
    role: svg && svg.getAttribute('aria-roledescription'),
    texts: svg ? [...svg.querySelectorAll('text')].map(t => t.textContent.trim()).filter(Boolean) : [],
  };
}
"""


def test_a_sequence_diagram_is_drawn_by_jupyterlabs_mermaid_renderer(request, tmp_path, capsys):
    """JupyterLab picks the bundle's text/vnd.mermaid and its Mermaid renderer draws it as SVG, not as text."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (e.g. `apt-get install chromium`) to run the browser test")
    base_url, token, folder = request.getfixturevalue("jupyter_lab_in_tmp")
    import nbformat
    from playwright.sync_api import sync_playwright

    name = "sequence.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SEQUENCE_CELL, id="seq")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / name)
    screenshot = tmp_path / "sequence_diagram.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base_url}/lab/tree/{name}?token={token}", wait_until="domcontentloaded", timeout=60_000)
            page.locator(".jp-NotebookPanel .jp-Notebook").first.wait_for(timeout=60_000)
            wait_for(page, "the kernel to be idle", lambda s: s["kernel"] == "idle", 60, name)
            page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
            page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
            wait_for(page, "the cell to start", lambda s: s["running"] > 0 or any(c.get("execution_count") for c in code_cells(s)), 30, name)
            state = wait_for(page, "the cell to finish", finished, RUN_ALL_S, name)
            errors = [f"{o['ename']}: {o['evalue']}" for c in code_cells(state) for o in c.get("outputs", []) if o["output_type"] == "error"]
            assert not errors, f"the cell raised {errors}"
            [cell] = code_cells(state)
            assert any("text/vnd.mermaid" in o.get("data", {}) for o in cell["outputs"]), "the cell displayed no Mermaid text"

            # JupyterLab chose the Mermaid renderer (not the bundle's SVG fallback or plain text). It draws
            # the diagram as an <img> of the SVG Mermaid made, in a <figure> stamped with Mermaid's version,
            # and keeps the source in a hidden <pre><code class="mermaid"> (for copying and screen readers).
            area = page.locator(".jp-Cell .jp-OutputArea").last
            output = area.locator(".jp-OutputArea-output.jp-RenderedMermaid")
            drawing = output.locator('figure[data-jp-mermaid-version] img[src^="data:image/svg+xml"]')
            drawing.wait_for(timeout=30_000)  # Mermaid is loaded and run on first use
            area.scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            page.screenshot(path=str(screenshot))
            assert output.count() == 1, f"the diagram was not given to the Mermaid renderer (screenshot {screenshot})"
            assert output.locator(".jp-mod-warning, details").count() == 0, f"Mermaid could not parse the diagram (screenshot {screenshot})"
            assert area.locator('[data-mime-type="image/svg+xml"], [data-mime-type="text/plain"]').count() == 0
            svg = drawing.evaluate(SVG_OF_IMG_JS)
            assert svg["loaded"] and svg["width"] > 100 and svg["height"] > 100, f"the drawing is empty: {svg} (screenshot {screenshot})"
            assert svg["role"] == "sequence", f"the SVG is not Mermaid's sequence diagram: {svg['role']!r}"
            for participant in PARTICIPANTS:
                assert participant in svg["texts"], f"{participant} is not drawn: {svg['texts']} (screenshot {screenshot})"
            assert "GET /stock" in svg["texts"]

            # The Mermaid source is not what the learner sees.
            shown = area.inner_text()
            assert "sequenceDiagram" not in shown and "->>" not in shown, f"the Mermaid source is shown as text: {shown[:500]!r}"
            assert not output.locator("pre").is_visible()
        finally:
            browser.close()
    with capsys.disabled():
        print(f"\n[browser] Mermaid drew the sequence diagram ({svg['width']:.0f}x{svg['height']:.0f} px); screenshot: {screenshot}")
