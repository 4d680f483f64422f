"""A real browser: JupyterLab in headless Chromium shows the dashboard and the explorers as widgets.

Opt-in: it carries the `browser` marker, which pyproject.toml deselects by default. Run it with

    pytest -m browser tests/test_browser.py

It needs Chromium (Debian: `apt-get install chromium`, found at /usr/bin/chromium; elsewhere set
GANHELPERS_CHROMIUM to the browser's path) and the Python package playwright (`pip install
playwright`; no `playwright install` download, the system's Chromium is driven). When either is
missing the test fails and says which: asked for, it must not pass by doing nothing.

It starts JupyterLab on 127.0.0.1 (a free port, a random token, its own settings, a kernel running this
Python), writes a small notebook (train a tiny DCGAN a few steps with the Dashboard, then a
LatentExplorer and an InterpolationExplorer), runs it from the Run menu, and checks that the
front end rendered widgets (slider and image DOM elements, not `VBox(...)` text or the PNG fallback),
that the dashboard's curves and whole sample grid fit the output area (in 1400 and 1000 px wide
windows), that dragging a direction slider and the frame slider changes the image bytes, and saves a
screenshot to tests/artifacts/browser.png (git-ignored).
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOT = ARTIFACTS / "browser.png"
KERNEL = "ganhelpers-browser-test"

CELLS = [
    """\
import torch
from ganhelpers.core import TrainConfig, Trainer
from ganhelpers.data import make_shapes
from ganhelpers.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganhelpers.models.steps import bce_steps
from ganhelpers.viz.dashboard import Dashboard
from ganhelpers.viz.explore import InterpolationExplorer, LatentExplorer

torch.set_num_threads(1)
torch.manual_seed(0)
data = make_shapes(128)
G, D = DCGANGenerator(16, data.img_shape, base=8), DCGANDiscriminator(data.img_shape, base=8)
config = TrainConfig(steps=30, batch_size=16, log_every=5, progress=False, device="cpu", n_fixed=16)
trainer = Trainer(G, D, *bce_steps(), data, config, callbacks=[Dashboard(every=1)])
trainer.fit();""",
    "LatentExplorer(G, n_directions=3, n_samples=6)",
    "InterpolationExplorer(G, n_frames=8, n_pairs=3)",
]

# fetch an <img>'s bytes inside the page (ipywidgets shows images through blob: URLs)
IMAGE_BYTES = "async img => Array.from(new Uint8Array(await (await fetch(img.src)).arrayBuffer()))"


def find_chromium() -> str:
    override = os.environ.get("GANHELPERS_CHROMIUM")
    if override:
        if not Path(override).is_file():
            pytest.fail(f"GANHELPERS_CHROMIUM={override} is not a file")
        return override
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"),
                      shutil.which("google-chrome")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("no Chromium found (looked for /usr/bin/chromium, chromium, chromium-browser, google-chrome): "
                "install it (Debian/Ubuntu: apt-get install -y chromium) or set GANHELPERS_CHROMIUM to its path")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_notebook(path: Path) -> None:
    cells = [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": source} for source in CELLS]
    nb = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": KERNEL, "display_name": "ganhelpers (browser test)",
                                      "language": "python"}}}
    path.write_text(json.dumps(nb, indent=1))


def jupyter_env(tmp: Path) -> dict:
    """Isolated Jupyter folders: our kernel spec, quiet settings, no user workspace."""
    kernel_dir = tmp / "data" / "kernels" / KERNEL
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ganhelpers (browser test)", "language": "python"}))
    settings = tmp / "settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    (settings / "notebook-extension").mkdir(parents=True)
    # render every cell, off-screen ones included; start the notebook's kernel without asking
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none", "autoStartDefaultKernel": True}))
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernel picks its inline backend
    env.update(JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"), GANHELPERS_MODE="smoke",
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    return env


def start_lab(tmp: Path, port: int, token: str):
    log = open(tmp / "jupyterlab.log", "w")
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={tmp / 'notebooks'}", "--ServerApp.allow_root=True",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    # a session of its own, so the server and the kernels it starts can be ended together
    proc = subprocess.Popen(cmd, env=jupyter_env(tmp), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.close()
            pytest.fail(f"JupyterLab exited with code {proc.returncode}:\n"
                        f"{(tmp / 'jupyterlab.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return proc, log
        except OSError:
            time.sleep(0.5)
    stop_lab(proc, log, port, token)
    pytest.fail(f"JupyterLab did not answer within 90 s:\n{(tmp / 'jupyterlab.log').read_text()[-3000:]}")


def stop_lab(proc, log, port: int, token: str) -> None:
    try:  # a clean shutdown ends the kernels too
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/shutdown?token={token}", method="POST")
        urllib.request.urlopen(request, timeout=5).close()
        proc.wait(timeout=15)
    except Exception:
        pass
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the session we started: the server and its kernels
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log.close()


def fail(page, message: str) -> None:
    """Fail with what the page shows: its outputs' text, and a screenshot next to the usual one."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("# written by tests/test_browser.py\n*\n")
    shot = ARTIFACTS / "browser-failure.png"
    try:
        page.screenshot(path=str(shot))
        shown = "\n".join(page.locator(".jp-NotebookPanel .jp-OutputArea").all_inner_texts())[-2000:]
    except Exception as e:  # the page itself is gone
        shown = f"(no page: {e})"
    pytest.fail(f"{message}\nscreenshot: {shot}\noutputs shown:\n{shown}")


def wait_for(page, condition, what: str, timeout: float, errors=None):
    """Poll `condition()` until true; fail early when the notebook shows a traceback."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if errors is not None:
            trouble = errors()
            if trouble:
                fail(page, f"a notebook cell failed while waiting for {what}:\n{trouble}")
        if condition():
            return
        page.wait_for_timeout(250)
    fail(page, f"timed out after {timeout:.0f} s waiting for {what}")


def drag(page, handle, dx: float) -> None:
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=8)
    page.mouse.up()


def image_bytes(img) -> bytes:
    return bytes(img.evaluate(IMAGE_BYTES))


def check_dashboard_fits(page, dashboard) -> None:
    """The dashboard's curves and sample grid fit the output area: nothing scrolls or is cut at the right
    edge, and the grid is shown whole, at its own pixel size while that fits in half the row."""
    curves, samples = dashboard.locator("img.widget-image").all()
    overflow = samples.evaluate("i => i.parentElement.scrollWidth - i.parentElement.clientWidth")
    if overflow > 1:
        fail(page, f"the dashboard's curves and samples overflow their row by {overflow} px: the grid is cut")
    area = dashboard.bounding_box()
    for name, img in (("curves", curves), ("sample grid", samples)):
        box = img.bounding_box()
        if box["x"] + box["width"] > area["x"] + area["width"] + 1:
            fail(page, f"the dashboard's {name} run past the output area's right edge")
    shown, natural = samples.evaluate("i => [i.getBoundingClientRect().width, i.naturalWidth]")
    if natural <= area["width"] / 2 and abs(shown - natural) > 1:
        fail(page, f"the sample grid is drawn {shown:.0f} px wide instead of its own {natural} px")


def test_widgets_render_and_respond_in_jupyterlab(tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser test needs the playwright Python package: pip install playwright "
                    "(the system Chromium is used; no `playwright install` is needed)")
    chromium = find_chromium()
    (tmp_path / "notebooks").mkdir()
    write_notebook(tmp_path / "notebooks" / "browser_test.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    started = time.monotonic()
    proc, log = start_lab(tmp_path, port, token)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 2000})
                run_and_check(page, port, token)
            finally:
                browser.close()
    finally:
        stop_lab(proc, log, port, token)
    print(f"browser test: {time.monotonic() - started:.0f} s from starting JupyterLab; screenshot {SCREENSHOT}")


def run_and_check(page, port: int, token: str) -> None:
    page.goto(f"http://127.0.0.1:{port}/lab/tree/browser_test.ipynb?token={token}", timeout=60_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    select = page.locator(".jp-Dialog button", has_text="Select")
    page.wait_for_timeout(1000)
    if select.count():  # a JupyterLab that still asks which kernel to start
        select.first.click()
    # the kernel is up when the toolbar names it and the status bar says Idle
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

    outputs = page.locator(".jp-NotebookPanel .jp-Cell .jp-OutputArea")

    def errors():
        stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        for text in stderr.all_inner_texts():
            if "Error" in text or "Traceback" in text:
                return text[-3000:]
        return None

    done = page.locator("button.widget-button", has_text="Done")
    latent = page.locator(".ganhelpers-latent-explorer")
    interp = page.locator(".ganhelpers-interpolation-explorer")
    wait_for(page, lambda: done.count() == 1 and latent.count() == 1 and interp.count() == 1
             and interp.locator("img.widget-image").count() == 1, "the dashboard and both explorers",
             timeout=60, errors=errors)

    # rendered as widgets: DOM sliders and images, no text repr, no PNG fallback, no widget error
    dashboard = outputs.nth(0)
    assert dashboard.locator(".jupyter-widgets").count() > 0 and dashboard.locator("img.widget-image").count() == 2
    assert latent.locator(".widget-slider").count() >= 5  # seed, truncation, 3 directions
    assert interp.locator(".widget-slider").count() >= 1 and interp.locator(".widget-play").count() == 1
    text = "\n".join(outputs.all_inner_texts())
    for bad in ("VBox(", "IntSlider(", "FloatSlider(", "Error displaying widget", "interactive: needs a Jupyter"):
        assert bad not in text, f"{bad!r} shown: the widgets did not render"
    for i in (1, 2):
        assert outputs.nth(i).locator(".jp-RenderedImage").count() == 0, "the PNG fallback was shown, not the widget"
    for img in [*dashboard.locator("img.widget-image").all(), latent.locator("img").first, interp.locator("img").first]:
        wait_for(page, lambda: img.evaluate("i => i.complete && i.naturalWidth > 0"), "an image to load", timeout=10)

    check_dashboard_fits(page, dashboard)
    page.set_viewport_size({"width": 1000, "height": 2000})  # a laptop-sized window, file browser open
    page.wait_for_timeout(500)
    check_dashboard_fits(page, dashboard)
    page.set_viewport_size({"width": 1400, "height": 2000})

    # dragging a direction slider changes the picture: the kernel answered with new bytes
    image = latent.locator("img.widget-image")
    before = image_bytes(image)
    drag(page, latent.locator(".ganhelpers-direction .noUi-handle").first, 90)
    readout = latent.locator(".ganhelpers-direction .widget-readout").first
    wait_for(page, lambda: image_bytes(image) != before, "the latent explorer's image to change", timeout=20)
    assert readout.inner_text().strip() not in ("0.0", "0.00", "0"), readout.inner_text()

    frame = interp.locator("img.widget-image")
    before = image_bytes(frame)
    drag(page, interp.locator(".ganhelpers-frame .noUi-handle").first, 120)
    wait_for(page, lambda: image_bytes(frame) != before, "the interpolation explorer's image to change", timeout=20)
    assert "t = 0.00" not in interp.locator(".widget-html").first.inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("# written by tests/test_browser.py\n*\n")
    page.screenshot(path=str(SCREENSHOT))
