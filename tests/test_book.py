"""The built HTML book: every chapter page exists with its tables and figures, and a real
browser (headless Debian Chromium via Selenium) renders every image.

The book is the session's smoke run (:mod:`book_support`); it is built into a
temporary root, never into the repository's ``_build``. Screenshots of the
index page and of one chapter are saved to ``test-artifacts/``.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import sys
import threading
from pathlib import Path

import pytest

from hrcn_lib.bookbuild import NOTEBOOKS
from hrcn_lib.paths import REPO_ROOT

pytestmark = pytest.mark.slow

#: (min <img> of figures, min <table>) per chapter page in the smoke build.
MIN_PER_PAGE: dict[str, tuple[int, int]] = {
    "01_data": (2, 4), "02_preprocessing": (3, 2), "03_architecture": (1, 2),
    "04_training": (1, 2), "05_hardware": (1, 2), "06_results": (2, 2),
    "07_blurry_robustness": (3, 1), "08_misclassification": (2, 2), "09_what_holds": (1, 5),
}
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--window-size=1280,2000")


@pytest.fixture(scope="module")
def html(smoke_book) -> Path:
    return smoke_book.build()


def _content_images(page: str) -> list[str]:
    """``src`` of the images in the page's article (figures; not the theme's logo)."""
    main = page.split('<main', 1)[-1]
    return re.findall(r'<img[^>]+src="([^"]+)"', main)


def test_every_chapter_page_has_its_tables_and_figures(html):
    assert (html / "index.html").exists()
    intro = (html / "book" / "intro.html").read_text()
    for stem in NOTEBOOKS:
        assert f"{stem}.html" in intro, f"intro does not link {stem}"
        page = (html / "book" / f"{stem}.html").read_text()
        n_img, n_table = len(_content_images(page)), page.count("<table")
        min_img, min_table = MIN_PER_PAGE[stem]
        assert n_img >= min_img, f"{stem}: {n_img} figures, expected >= {min_img}"
        assert n_table >= min_table, f"{stem}: {n_table} tables, expected >= {min_table}"
        for src in _content_images(page):
            assert (html / "book" / src).resolve().exists(), f"{stem}: missing image {src}"
        assert "output traceback" not in page and "Traceback (most recent call last)" not in page
        # the injected-parameters cell is removed; the profile shows in the prose instead
        assert "injected-parameters" not in page
    assert "Zhang" in (html / "book" / "references.html").read_text()


def test_the_site_carries_no_build_machine_path_and_has_the_api_page(html, smoke_book):
    """Chapters print paths relative to the run directory, papermill's parameters and metadata
    are relative to the build folder: no file of the site (pages, downloadable .ipynb
    sources) names the build folder, the checkout or the Python installation."""
    machine = {str(smoke_book.root), str(smoke_book.root.resolve()), str(REPO_ROOT), sys.prefix,
               str(Path(sys.prefix).resolve())}
    checked = 0
    for path in html.rglob("*"):
        if path.suffix not in (".html", ".ipynb", ".txt", ".json"):
            continue
        text = path.read_text(errors="replace")
        checked += 1
        for folder in machine:
            assert folder not in text, f"{path.relative_to(html)} names {folder}"
    assert checked > 20
    api = (html / "book" / "api.html").read_text()
    for name in ("load_sample", "build_model", "Predictor.predict_file", "read_manifest",
                 "simulate_dataset", "grad_cam"):
        assert name in api, name
    first = re.sub(r"<[^>]+>", "", (html / "book" / "01_data.html").read_text())
    assert "run directory runs/smoke/ (paths below are relative to it)" in first


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("Debian chromium + chromium-driver not installed "
                    "(apt-get install -y chromium chromium-driver; .ci/run does this)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    return opts, Service(executable_path=driver), webdriver


@pytest.fixture(scope="module")
def server(html):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *_args) -> None:  # keep the test output clean
            pass

    handler = functools.partial(Quiet, directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_pages_render_in_a_real_browser(server, html, tmp_path):
    opts, service, webdriver = _browser()
    opts.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    from selenium.webdriver.support.ui import WebDriverWait

    driver = webdriver.Chrome(options=opts, service=service)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        driver.set_page_load_timeout(60)
        for i, page in enumerate(["index.html", *(f"book/{s}.html" for s in NOTEBOOKS)]):
            driver.get(f"{server}/{page}")
            if i == 0:  # index.html redirects to the intro page
                WebDriverWait(driver, 30).until(lambda d: d.current_url.endswith("intro.html"))
            WebDriverWait(driver, 30).until(lambda d: d.execute_script(
                "return document.readyState === 'complete' && document.body !== null;"))
            driver.execute_script("window.scrollTo(0, document.body.scrollHeight);")
            WebDriverWait(driver, 30).until(lambda d: d.execute_script(
                "return Array.from(document.images).every(i => i.complete);"))
            # every image decoded with a real size
            state = driver.execute_script(
                "return Array.from(document.images).map(i => "
                "[i.getAttribute('src'), i.complete, i.naturalWidth, i.closest('main') !== null]);")
            broken = [s for s, complete, width, _ in state if not complete or width == 0]
            assert broken == [], f"{page}: broken images {broken}"
            driver.execute_script("window.scrollTo(0, 0);")
            if page.startswith("book/"):
                stem = page[5:-5]
                in_main = [s for s, _, w, main in state if main and w > 0]
                assert len(in_main) >= MIN_PER_PAGE[stem][0], f"{page}: {len(in_main)} figures"
                title = driver.execute_script(
                    "const h = document.querySelector('article h1'); return h ? h.innerText : '';")
                assert title.strip()[:1].isdigit(), f"{page}: chapter title {title!r} not rendered"
            if i == 0:
                driver.save_screenshot(str(ARTIFACTS / "book-index.png"))
            if page == "book/02_preprocessing.html":
                driver.save_screenshot(str(ARTIFACTS / "book-02_preprocessing.png"))
    finally:
        driver.quit()
    assert (ARTIFACTS / "book-index.png").stat().st_size > 10_000
    assert (ARTIFACTS / "book-02_preprocessing.png").stat().st_size > 10_000
