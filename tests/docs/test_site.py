"""The documentation site builds offline with ``mkdocs build --strict``, and a real browser (headless
Chromium) renders the overview and the disclosure rules with their key content.

Skipped, saying what is missing, where the ``docs`` extra or Chromium is not installed; ``.ci/run``
installs both.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import policykit
from tests.services import missing_service

ROOT = Path(__file__).resolve().parents[2]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built from the repository's mkdocs.yml into a temporary directory."""
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        missing_service("the docs extra is not installed (pip install -e '.[docs]'): the site is not built")
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return out


@pytest.fixture(scope="module")
def browser() -> str:
    """The Chromium executable."""
    found = _chromium()
    if found is None:
        missing_service("Chromium is not installed (apt-get install chromium): the site is not rendered")
    return found


def render(browser: str, page: Path, profile: Path) -> str:
    """The DOM of a page after a headless browser has loaded it and run its scripts."""
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         # offline: every host name fails to resolve, so nothing can come from a CDN
         "--host-resolver-rules=MAP * ~NOTFOUND",
         "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_site_has_every_page(site: Path) -> None:
    """The hand-written pages and every generated page are in the site."""
    for page in ("index.html", "tutorial.html", "rule-format.html", "errors.html",
                 "howto/edited-rules.html", "policy/index.html", "policy/clauses.html",
                 "policy/disclosure.html", "policy/disclosure-matrices.html",
                 "policy/record-of-processing.html", "policy/interpretations.html", "policy/vocabulary.html"):
        assert (site / page).is_file(), page


def test_overview_renders_in_a_browser(site: Path, browser: str, tmp_path: Path) -> None:
    """The rendered overview names the controller and version and says how decisions combine."""
    dom = render(browser, site / "policy" / "index.html", tmp_path)
    for text in ("The We Select Company AB", "556841-1671", "2022-06-22", "How decisions are combined",
                 "A forbid overrides a permit", "Default deny", 'href="clauses.html"'):
        assert text in dom, text
    assert "md-nav" in dom      # the theme's navigation was rendered


def test_rule_page_renders_in_a_browser(site: Path, browser: str, tmp_path: Path) -> None:
    """The rendered disclosure page has a section per rule, in plain language, linked to its clauses."""
    dom = render(browser, site / "policy" / "disclosure.html", tmp_path)
    for rule in policykit.load_rules().disclosure.rules:
        assert f'id="{rule.id.lower()}"' in dom, rule.id
    assert "<strong>Forbidden</strong> when" in dom
    assert "no confidentiality undertaking is signed or no data (processing) agreement is signed" in dom
    assert 'href="clauses.html#p-tp-10"' in dom


def test_matrices_render_in_a_browser(site: Path, browser: str, tmp_path: Path) -> None:
    """The rendered matrices show allowed cells and refusals with their reason codes."""
    dom = render(browser, site / "policy" / "disclosure-matrices.html", tmp_path)
    assert '<span class="ok">✓ T07</span>' in dom
    assert "RECIPIENT_<wbr>NOT_<wbr>PERMITTED" in dom


def test_a_diagram_renders_offline(site: Path, browser: str, tmp_path: Path) -> None:
    """The retention page's state diagram is drawn by the Mermaid shipped with the site, with no network:
    the theme replaces the diagram's source (a <pre class="mermaid">) with the drawing (a <div
    class="mermaid"> whose SVG sits in a closed shadow root); without Mermaid the source would stay."""
    source = (site / "policy" / "retention.html").read_text(encoding="utf-8")
    assert '<pre class="mermaid">' in source and "stateDiagram-v2" in source
    scripts = [p.name for p in (site / "javascripts").glob("mermaid-*.min.js")]
    assert len(scripts) == 1 and f'src="../javascripts/{scripts[0]}"' in source
    dom = render(browser, site / "policy" / "retention.html", tmp_path)
    assert '<div class="mermaid"></div>' in dom
    assert "stateDiagram-v2" not in dom and '<pre class="mermaid">' not in dom
