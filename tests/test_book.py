"""Every chapter of the book executes end to end at the `smoke` profile (one test each), then the book is
rendered from those executed notebooks and every page is opened in headless Chromium, as a reader would."""
import functools
import http.server
import threading
from pathlib import Path

import pytest

from conftest import ROOT
from minfo.harness.book import execute_chapter, render_html, stage_tables, toc_files

FILES = toc_files(ROOT / "_toc.yml")
INDEX, CHAPTERS = FILES[0], FILES[1:]


def _execute(book, f):
    params = {"profile": "smoke", "device": "cpu", "results_dir": str(book["results"])}
    execute_chapter(ROOT / f"{f}.ipynb", book["stage"] / f"{f}.ipynb", params, ROOT / "minfo", force=True)
    book["ran"].add(f)


def test_toc_lists_every_notebook():
    listed = {Path(f).name for f in FILES}
    on_disk = {p.stem for p in (ROOT / "nbs").glob("*.ipynb")}
    assert listed == on_disk, f"in nbs/ but not in _toc.yml: {on_disk - listed}; in _toc.yml only: {listed - on_disk}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_at_smoke(smoke_book, chapter):
    _execute(smoke_book, chapter)


def test_book_renders_and_reads_well(smoke_book):
    "Index last (it collects the claims); render with -W; open each page in headless Chromium."
    for f in CHAPTERS:
        if f not in smoke_book["ran"]:
            _execute(smoke_book, f)
    _execute(smoke_book, INDEX)
    stage_tables(smoke_book["results"], smoke_book["stage"])   # the files chapters publish (e.g. the benchmark table)
    html = render_html(ROOT, smoke_book["stage"], smoke_book["base"])
    pages = [f"{f}.html" for f in FILES]
    missing = [p for p in ["index.html"] + pages if not (html / p).exists()]
    assert not missing, f"pages missing from the book: {missing}"
    problems = _browse(html, pages)
    assert not problems, "\n".join(problems)


def _browse(html: Path, pages: list[str]) -> list[str]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.wait import WebDriverWait
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    handler = functools.partial(Quiet, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
              "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
    problems = []
    try:
        for page in pages:
            driver.get(f"http://127.0.0.1:{server.server_port}/{page}")
            driver.execute_script("return document.readyState")
            title = driver.title
            if not title or "404" in title:
                problems.append(f"{page}: no page (title {title!r})")
            body = driver.execute_script("const m = document.querySelector('main'); return m ? m.innerText : ''")
            if len(body) < 200:
                problems.append(f"{page}: almost empty ({len(body)} characters)")
            find_raw_tex = ("return [...document.querySelectorAll('main p, main li')].map(e => e.innerText)"
                            ".filter(t => /\\\\\\(|\\$\\$/.test(t)).slice(0, 2)")
            try:  # MathJax typesets after the page loads
                WebDriverWait(driver, 15, 0.25).until(lambda d, js=find_raw_tex: not d.execute_script(js))
            except TimeoutException:
                problems.append(f"{page}: maths not rendered: {driver.execute_script(find_raw_tex)}")
            driver.set_script_timeout(30)  # typesetting done and every font it asked for loaded (or failed)
            driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "const typeset = window.MathJax && MathJax.Hub ? new Promise(r => MathJax.Hub.Queue(r)) : Promise.resolve();"
                "typeset.then(() => document.fonts.ready).then(() => done(true));")
            errors = driver.execute_script(
                "return [...document.querySelectorAll('.traceback, .output.error, .cell_output .stderr')]"
                ".map(e => e.innerText.slice(0, 300))")
            if any("Traceback" in e or "Error" in e for e in errors):
                problems.append(f"{page}: error output in a cell: {errors[:2]}")
            broken = driver.execute_script(
                "return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
            if broken:
                problems.append(f"{page}: broken images {broken}")
            for entry in driver.get_log("browser"):
                if entry["level"] == "SEVERE" and "favicon" not in entry["message"]:
                    problems.append(f"{page}: console error {entry['message'][:300]}")
        driver.get(f"http://127.0.0.1:{server.server_port}/index.html")  # the book's front door redirects
        WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith(pages[0]))
    finally:
        driver.quit()
        server.shutdown()
    return problems


def test_unchanged_chapter_is_not_executed_again(tmp_path):
    "A second build with nothing changed reads the executed chapter back (the fingerprint); a change re-executes it."
    src = tmp_path / "nbs" / "09i_plots.ipynb"
    src.parent.mkdir()
    src.write_bytes((ROOT / "nbs" / "09i_plots.ipynb").read_bytes())
    dst, params = tmp_path / "out" / "09i_plots.ipynb", {"profile": "smoke"}
    assert execute_chapter(src, dst, params, ROOT / "minfo") is True
    assert execute_chapter(src, dst, params, ROOT / "minfo") is False
    src.write_text(src.read_text().replace("App. C.1", "App. C.1 "))
    assert execute_chapter(src, dst, params, ROOT / "minfo") is True
