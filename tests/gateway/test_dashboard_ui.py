"""The /ui dashboard in a real headless browser (Debian's chromium driven by playwright): the page loads, the
charts draw from live data the gateway just logged, and a filter narrows every view.

Skipped, saying why, only where no browser can be had (no chromium binary or no playwright package);
.ci/run installs both.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest
from gateway_support import ServeGateway, router_file

from tiered.gateway.keys import GatewayKey, secret_hash
from tiered.gateway.settings import GatewaySettings
from tiered.online.registry import RouterRegistry
from tiered.online.settings import LearningSettings

ADMIN = "adm-ui-test-key-0123456789"
ALICE, BOB = "tk-ui-alice-0123456789", "tk-ui-bob-0123456789"
ROUTES = "".join(f'[routes.{n}]\npolicy = "fallback"\nchain = ["{t}"]\n' for n, t in (("default", "haiku"),
                                                                                     ("code", "sonnet")))
LEARN_ROUTE = ('[routes.learn]\npolicy = "router"\nscorer = "learned"\n'
               'thresholds = { tiers = ["haiku", "opus"], cuts = [0.0] }\n')
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no chromium binary on this machine (.ci/run installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (it is in the test extra)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def registry_with_two_versions(root: Path) -> RouterRegistry:
    """Route `learn` learned twice: v0001 (300 labels) promoted, then v0002 (1,000 labels, better) promoted."""
    registry = RouterRegistry(root / "routers")
    t0 = time.time() - 2 * 86400
    for n, (apgr, ci, labels) in enumerate(((0.612, (0.57, 0.65), 300), (0.655, (0.62, 0.69), 1000))):
        version = registry.add("learn", router_file(root / f"r{n}.json.gz", apgr=apgr, ci=ci, labels=labels,
                                                    created_at=t0 + n * 86400))
        registry.promote("learn", version.id, cuts=[0.0])
    return registry


def served(emulator_url: str, serve_gateway: ServeGateway, registry: RouterRegistry | None = None) -> Any:
    keys = (GatewayKey("alice", secret_hash(ALICE), team="search", usd_per_day=None),
            GatewayKey("bob", secret_hash(BOB), team="ops"))
    from decimal import Decimal

    learning = None if registry is None else LearningSettings(routes=("learn",), registry=str(registry.root))
    settings = GatewaySettings(named_keys=keys, admin_keys=frozenset({ADMIN}), usd_per_day=Decimal(5),
                               learning=learning)
    gw = serve_gateway(emulator_url, routes=ROUTES + LEARN_ROUTE, settings=settings)
    for key, route, n in ((ALICE, "default", 3), (BOB, "code", 2), (ALICE, "code", 1)):
        client = anthropic.Anthropic(api_key=key, base_url=gw.url, max_retries=0)
        for i in range(n):
            body: Any = {"model": f"tiered/{route}", "max_tokens": 32,
                         "messages": [{"role": "user", "content": f"question {i} for {route}"}]}
            if i == 0:
                with client.messages.stream(**body) as s:  # a stream, so there is a time to first token
                    s.get_final_message()
            else:
                client.messages.create(**body)
    gw.records(6)
    return gw


def test_the_dashboard_draws_live_data_and_filters(emulator_url: str, serve_gateway: ServeGateway,
                                                   browser: Any, tmp_path: Path) -> None:
    gw = served(emulator_url, serve_gateway, registry_with_two_versions(tmp_path))
    page = browser.new_page(viewport={"width": 1280, "height": 1500})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{gw.url}/ui")
    assert page.title().startswith("tiered")
    page.fill("#key-input", ADMIN)
    page.click("#apply")
    page.wait_for_selector("body[data-loaded='1']", timeout=20_000)
    assert "6 requests" in page.text_content("#status")
    assert page.locator("#cards .card").count() >= 6
    tier_bars = page.locator("#chart-tier rect.bar")
    assert tier_bars.count() >= 2  # haiku (default) and sonnet (code), at least one bar each
    assert {tier_bars.nth(i).get_attribute("data-series") for i in range(tier_bars.count())} == {"haiku", "sonnet"}
    assert float(tier_bars.first.get_attribute("height")) > 0
    key_series = page.locator("#chart-key rect.bar")
    assert {key_series.nth(i).get_attribute("data-series") for i in range(key_series.count())} == {"alice", "bob"}
    assert page.locator("#routes tbody tr").count() == 2
    assert page.locator("#recent tbody tr").count() == 6
    assert page.locator("#budgets tbody tr[data-who=alice]").count() == 1
    assert "of $5.00" in page.text_content("#budgets tbody tr[data-who=alice]")
    ttft = page.text_content("#cards")
    assert "TTFT" in ttft
    # the decision trail of a request opens to its attempts
    page.locator("#recent details").first.click()
    assert page.locator("#recent details[open] li").count() >= 1
    # the learning panel: the router in use, its versions and the learning curve, from the live registry
    assert "1 learning route" in page.text_content("#learning-note")
    rows = page.locator("#learning tbody tr")
    assert rows.count() == 2
    current = page.locator("#learning tbody tr[data-state=current]")
    assert current.get_attribute("data-version") == "v0002"
    assert "v0002" in current.locator("td").nth(1).text_content()  # the version the gateway installed
    assert "0.655 [0.620, 0.690]" in current.text_content() and "1000" in current.text_content()
    assert page.locator("#learning tbody tr[data-version=v0001]").get_attribute("data-state") == "promoted before"
    dots = page.locator("#chart-learning circle.point")
    assert [dots.nth(i).get_attribute("data-version") for i in range(dots.count())] == ["v0001", "v0002"]
    assert float(dots.nth(1).get_attribute("cy")) < float(dots.nth(0).get_attribute("cy"))  # APGR grew
    assert float(dots.nth(1).get_attribute("cx")) > float(dots.nth(0).get_attribute("cx"))  # over time
    assert page.locator("#chart-learning path.curve").count() == 1
    assert page.locator("#chart-learning line.ci").count() == 2
    shot = Path(os.environ.get("TIERED_DASHBOARD_SCREENSHOT") or tmp_path / "dashboard.png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    # a filter: only the code route
    page.select_option("#route", "code")
    page.wait_for_selector("body[data-loaded='2']", timeout=20_000)
    assert "3 requests" in page.text_content("#status")
    assert page.locator("#routes tbody tr").count() == 1
    assert page.locator("#recent tbody tr").count() == 3
    assert page.locator("#learning tbody tr").count() == 0  # `code` does not learn
    tiers = page.locator("#chart-tier rect.bar")
    assert {tiers.nth(i).get_attribute("data-series") for i in range(tiers.count())} == {"sonnet"}
    # and a key on top of it
    page.select_option("#key", "bob")
    page.wait_for_selector("body[data-loaded='3']", timeout=20_000)
    assert "2 requests" in page.text_content("#status")
    assert errors == []


def test_the_dashboard_refuses_a_wrong_key_and_serves_no_data_without_one(
        emulator_url: str, serve_gateway: ServeGateway, browser: Any) -> None:
    gw = served(emulator_url, serve_gateway)
    page = browser.new_page()
    page.goto(f"{gw.url}/ui")
    page.fill("#key-input", ALICE)  # a valid key, but not an admin key
    page.click("#apply")
    page.wait_for_selector("#status.error", timeout=20_000)
    assert "admin key" in page.text_content("#status")
    assert page.locator("#recent tbody tr").count() == 0
    static = httpx2.get(f"{gw.url}/ui/app.js")
    assert static.status_code == 200 and "self'" in static.headers["content-security-policy"]
    assert httpx2.get(f"{gw.url}/ui/../settings.py").status_code == 404
