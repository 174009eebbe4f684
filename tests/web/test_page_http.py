"""The page's files over real HTTP: a strict Content-Security-Policy on every one, no
inline script or style to need an exception, and only the page's own files served."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest

from gateway.http.page import STATIC
from tests.web.server import WebServer


def fetch(url: str) -> tuple[dict[str, str], str]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return {k.lower(): v for k, v in answer.headers.items()}, answer.read().decode()


def test_the_page_and_its_files_carry_a_strict_policy(web: WebServer) -> None:
    headers, page = fetch(web.url)
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-type"].startswith("text/html")
    for name in re.findall(r'(?:src|href)="/static/([^"]+)"', page):
        file_headers, _ = fetch(f"{web.url}static/{name}")
        assert file_headers["content-security-policy"] == policy, name


def test_nothing_inline_needs_an_exception_and_nothing_renders_html_from_text() -> None:
    page = (STATIC / "index.html").read_text()
    assert "<script>" not in page and "<style" not in page and " style=" not in page
    assert not re.search(r"\son[a-z]+=", page)  # no inline event handlers
    sinks = re.compile(
        r"\.(innerHTML|outerHTML|insertAdjacentHTML|createContextualFragment)\b"
        r"|document\.write|\beval\(|new Function\b"
    )
    for script in STATIC.glob("*.js"):
        found = sinks.search(script.read_text())
        assert found is None, f"{script.name} uses {found.group(0) if found else ''}"


def test_only_the_pages_own_files_are_served(web: WebServer) -> None:
    status, refused = web.get("static/..%2Fpage.py")
    assert status == 404 and "error" in refused
    status, missing = web.get("static/nope.js")
    assert status == 404 and "/static/board.js" in missing["error"]


def test_an_unchanged_file_is_not_sent_again(web: WebServer) -> None:
    headers, _ = fetch(web.url + "static/board.js")
    request = urllib.request.Request(
        web.url + "static/board.js", headers={"If-None-Match": headers["etag"]}
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    answer.value.close()
    assert answer.value.code == 304
