"""`archspec render SPEC -o net.html`: one self-contained page, checked as data and then in a
real browser (headless Chromium through chromedriver): opening, expanding, searching and
selecting, with the panel's figures equal to the summary's."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import NETWORKS, run_archspec

import archspec
from archspec.tools import diff, viewer

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="the page embeds Graphviz's layout; dot is missing")


def page_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.DOTALL)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_the_page_is_self_contained_and_no_spec_text_can_end_its_data(tmp_path: Path) -> None:
    (tmp_path / "a<").mkdir()
    odd = tmp_path / "a<" / "script><b>.yaml"  # its path holds </script>
    odd.write_text("archspec: 1\ninput: {shape: [8, 8, 3]}\nnetwork:\n  - {op: conv, kernel: 3, filters: 4}\n")
    html = viewer.page(archspec.load(odd))
    assert html.count("</script>") == 2  # the data's and the script's own
    assert not re.search(r"""(src|href)\s*=|https?://(?!www\.w3\.org/2000/svg)|@import|fetch\(""", html)
    data = page_data(html)
    assert data["steps"]["conv_0"]["source"].endswith("a</script><b>.yaml:4:5")


def test_the_data_is_the_summary_s_figures() -> None:
    spec = archspec.load("inception_resnet_v2")
    data = viewer.model(spec)
    summary = spec.summary()
    for node in summary["nodes"]:
        mine = data["nodes"][node["name"]]
        assert (mine["params"], mine["macs"], mine["activation_bytes"]) == (
            node["params"],
            node["macs"],
            node["activation_bytes"],
        )
    assert data["totals"]["params"] == summary["params"] and data["totals"]["macs"] == summary["macs"]
    assert data["groups"]["block17_1"] == [f"block17_{i}" for i in range(1, 21)]
    # Every block instance has its own Graphviz layout, every edge of which is labelled.
    layout = data["steps"]["block17_1"]["layout"]
    assert {n["id"] for n in layout["nodes"]} >= set(data["steps"]["block17_1"]["nodes"])
    assert all(e["label"] for e in layout["edges"] if e["to"] != "@output")


def test_the_diff_marks_what_b_changes() -> None:
    a, b = archspec.load("inception_resnet_v2"), archspec.load("inception_resnet_v2_paper")
    data = viewer.model(a, diff.highlight(diff.diff(a, b)))
    assert data["steps"]["mixed_5b"]["status"] == "removed" and data["steps"]["stem"]["status"] == "changed"
    assert (
        data["nodes"]["block35_1/up"]["status"] == "changed"
        and data["nodes"]["block35_1/branch_1/conv_1"]["status"] is None
    )
    assert "diff against B = inception_resnet_v2_paper" in data["legend"]


def test_render_writes_html_and_refuses_views_that_do_not_apply(tmp_path: Path) -> None:
    done = run_archspec("render", "inception_v4", "-o", "v4.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert page_data((tmp_path / "v4.html").read_text())["name"] == "inception_v4"
    refused = run_archspec("render", "inception_v4", "-o", "x.html", "--block", "inception_a", cwd=tmp_path)
    assert refused.returncode == 2 and "drop --level and --block" in refused.stderr


# -- in a browser ----------------------------------------------------------------------------------


def _browser() -> Any:
    """A headless Chromium driven by chromedriver, or a skip that says what is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip(
            "no browser: Debian's chromium and chromium-driver are not installed (make test installs them as root)"
        )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1400,900",
        "--disable-dev-shm-usage",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = _browser()
    yield driver
    driver.quit()


def opened(browser: Any, path: Path) -> float:
    """Open a page; the milliseconds from navigation to the first drawing, which must come."""
    browser.get(path.as_uri())
    for _ in range(200):
        if browser.execute_script("return window.archspecReady === true"):
            break
        time.sleep(0.05)
    assert browser.execute_script("return window.archspecReady === true")
    return float(browser.execute_script("return performance.now()"))


def results(browser: Any, count: int) -> list[Any]:
    """The search results once there are `count` of them (the search waits for typing to pause),
    or what there is after ten seconds."""
    for _ in range(200):
        found = browser.find_elements("css selector", "#results li")
        if len(found) == count:
            return list(found)
        time.sleep(0.05)
    return list(browser.find_elements("css selector", "#results li"))


def errors(browser: Any) -> list[dict[str, Any]]:
    return [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]


@pytest.mark.slow
@pytest.mark.parametrize("path", NETWORKS, ids=[p.stem for p in NETWORKS])
def test_every_bundled_page_opens_without_console_errors(path: Path, browser: Any, tmp_path: Path) -> None:
    page = tmp_path / f"{path.stem}.html"
    page.write_text(viewer.page(archspec.load(path)), encoding="utf-8")
    opened(browser, page)
    assert errors(browser) == []
    drawn = browser.find_elements("css selector", "[data-kind=group]")
    assert len(drawn) == len(page_data(page.read_text())["groups"])


@pytest.mark.slow
def test_expanding_searching_and_selecting_show_the_summary_s_figures(browser: Any, tmp_path: Path) -> None:
    page = tmp_path / "inception_resnet_v2.html"
    done = run_archspec("render", "inception_resnet_v2", "-o", str(page), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    milliseconds = opened(browser, page)
    print(f"inception_resnet_v2's page drawn {milliseconds:.0f} ms after navigation")
    by = "css selector"
    assert not browser.find_elements(by, '[data-id="block17_1/up"]')  # folded at first
    browser.find_element(by, '[data-id="block17_1"][data-kind="group"]').click()
    browser.find_element(by, '[data-id="block17_1"][data-kind="step"]').click()
    browser.find_element(by, '[data-id="block17_1/up"]').click()
    panel = {
        e.get_attribute("data-field"): e.get_attribute("data-value")
        for e in browser.find_elements(by, "#panel [data-field]")
    }
    summary = json.loads(run_archspec("summary", "inception_resnet_v2", "--format", "json", cwd=tmp_path).stdout)
    node = next(n for n in summary["nodes"] if n["name"] == "block17_1/up")
    assert {k: int(panel[k]) for k in ("params", "macs", "activation_bytes")} == {
        "params": node["params"],
        "macs": node["macs"],
        "activation_bytes": node["activation_bytes"],
    }
    assert panel["output_shape"] == "x".join(map(str, node["output_shape"])) and panel["op"] == "conv"
    where = archspec.load("inception_resnet_v2").node("block17_1/up").pos
    assert panel["source"].endswith(f"lib/inception_resnet_v2_blocks.yaml:{where.line}:{where.col}")
    assert f"{100 * node['params'] / summary['params']:.2f} %" in browser.find_element(by, "#panel").text
    browser.save_screenshot(str(tmp_path / "viewer.png"))
    assert (tmp_path / "viewer.png").stat().st_size > 20_000
    # Folding the run hides its instances again.
    browser.find_element(by, '[data-id="g:block17_1"][data-kind="title"]').click()
    assert not browser.find_elements(by, '[data-id="block17_2"][data-kind="step"]')
    # Search by name and by op kind; a result opens the way to its node and selects it.
    box = browser.find_element(by, "#search")
    box.send_keys("block8_10/res")
    hits = results(browser, 1)
    assert [h.get_attribute("data-id") for h in hits] == ["block8_10/residual"]
    hits[0].click()
    assert browser.find_element(by, "#panel h2").text == "block8_10/residual"
    assert browser.find_elements(by, '[data-id="block8_10/residual"].selected')
    box.clear()
    box.send_keys("add")
    assert len(results(browser, 40)) == 40  # the residual add of every block
    assert errors(browser) == []


@pytest.mark.slow
def test_names_that_objects_own_are_plain_names_on_the_page(browser: Any, tmp_path: Path) -> None:
    """Blocks and nodes may be called `constructor`, `__proto__` or `toString`: the page finds
    those nodes, and never Object's own members, when it opens, expands, searches and selects."""
    spec = tmp_path / "proto.yaml"
    spec.write_text(
        "archspec: 1\ninput: {shape: [16, 16, 3]}\nblocks:\n  constructor:\n    body:\n"
        "      - {op: conv, kernel: 3, filters: 4, padding: same, name: toString}\n"
        "      - {op: conv, kernel: 1, filters: 4, name: __proto__}\n"
        "network:\n  - {block: constructor, name: hasOwnProperty}\n  - {block: constructor, name: __proto__}\n"
        "  - {op: conv, kernel: 1, filters: 2, name: valueOf}\n"
    )
    page = tmp_path / "proto.html"
    assert run_archspec("render", str(spec), "-o", str(page), cwd=tmp_path).returncode == 0
    opened(browser, page)
    assert errors(browser) == []
    by = "css selector"
    browser.find_element(by, '[data-id="hasOwnProperty"][data-kind="group"]').click()  # a run of two
    browser.find_element(by, '[data-id="__proto__"][data-kind="step"]').click()
    browser.find_element(by, '[data-id="__proto__/__proto__"]').click()
    assert browser.find_element(by, "#panel h2").text == "__proto__/__proto__"
    panel = {
        e.get_attribute("data-field"): e.get_attribute("data-value")
        for e in browser.find_elements(by, "#panel [data-field]")
    }
    node = archspec.load(spec).summary()["nodes"]
    mine = next(n for n in node if n["name"] == "__proto__/__proto__")
    assert panel["op"] == "conv" and panel["output_shape"] == "16x16x4" and int(panel["params"]) == mine["params"]
    box = browser.find_element(by, "#search")
    box.send_keys("toString")
    hits = results(browser, 2)
    assert sorted(h.get_attribute("data-id") for h in hits) == ["__proto__/toString", "hasOwnProperty/toString"]
    assert errors(browser) == []


@pytest.mark.slow
def test_a_page_at_the_op_budget_is_written_and_opens_without_errors(browser: Any, tmp_path: Path) -> None:
    """The largest network a spec may expand to (benchmarks/cpu_frontend.py times the writing):
    its page opens, its run of blocks expands, and a node deep inside is found and shown."""
    from benchmarks.cpu_frontend import blocks_at_op_budget

    spec = tmp_path / "big.yaml"
    spec.write_text(blocks_at_op_budget())
    page = tmp_path / "big.html"
    page.write_text(viewer.page(archspec.load(spec)), encoding="utf-8")
    opened(browser, page)
    by = "css selector"
    click = "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))"  # far off screen
    browser.execute_script(click, browser.find_element(by, '[data-id="u0"][data-kind="group"]'))
    steps = browser.find_elements(by, "[data-kind=step]")
    assert len(steps) == len(page_data(page.read_text())["groups"]["u0"]) > 1000
    browser.execute_script(click, browser.find_element(by, '[data-id="u1000"][data-kind="step"]'))
    browser.execute_script(click, browser.find_element(by, '[data-id="u1000/a/conv_1"]'))
    assert browser.find_element(by, "#panel h2").text == "u1000/a/conv_1"
    assert errors(browser) == []
