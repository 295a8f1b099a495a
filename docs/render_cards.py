"""Render the notebook cards of the README from the sandbox's bundled world.

    python docs/render_cards.py            # writes docs/images/*.html (and *.png with chromium)

Starts :class:`aind_session.testing.sandbox.Sandbox`, renders the ``describe()``
card of ``ecephys_676909_2023-12-13_13-43-40`` (its latest sorting failed, so an
older one is chosen) and the card of ``Subject(676909).describe()``, and writes
each as a page, once on a light background and once on a dark one. When
Chromium is installed (``chromium`` or ``chromium-browser`` on the PATH, or
``$CHROMIUM``), each page is also taken as a PNG screenshot.

The sandbox's CodeOcean runs on 127.0.0.1, so the session card's links are
drawn for the public deployment (``https://codeocean.allenneuraldynamics.org``,
given to ``Summary.to_html``; nothing is asked of it): what a reader's own
card would link to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

IMAGES = Path(__file__).resolve().parent / "images"
SESSION = "ecephys_676909_2023-12-13_13-43-40"
SUBJECT = 676909
DOMAIN = "https://codeocean.allenneuraldynamics.org"
THEMES = {
    "light": "background:#fff;color:#1f1f1f",
    "dark": "background:#111;color:#ddd",
}
# a window per card: (width, height) in CSS pixels
SIZES = {"session": (900, 640), "subject": (900, 330), "session_bare": (900, 200)}
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def render_cards() -> dict[str, str]:
    """The cards' HTML by name, rendered against a sandbox started here."""
    from aind_session import Session, Subject, report
    from aind_session.testing.sandbox import Sandbox

    with Sandbox():
        summary = report.describe(Session(SESSION))  # what Session.describe() returns
        return {
            "session": summary.to_html(codeocean_domain=DOMAIN),  # as a reader's card links
            "subject": Subject(SUBJECT).describe()._repr_html_(),
            "session_bare": Session(SESSION)._repr_html_(),
        }


def page(card: str, theme: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'></head>"
        f"<body style='margin:0;padding:16px;{THEMES[theme]}'>{card}</body></html>\n"
    )


def chromium() -> str | None:
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


def screenshot(browser: str, html_file: Path, png: Path, size: tuple[int, int]) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                f"--window-size={size[0]},{size[1]}",
                html_file.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main() -> int:
    IMAGES.mkdir(parents=True, exist_ok=True)
    browser = chromium()
    written = []
    for name, card in render_cards().items():
        for theme in THEMES:
            html_file = IMAGES / f"{name}_card_{theme}.html"
            html_file.write_text(page(card, theme), encoding="utf-8")
            written.append(html_file)
            if browser:
                png = html_file.with_suffix(".png")
                screenshot(browser, html_file, png, SIZES[name])
                written.append(png)
    for path in written:
        print(path.relative_to(IMAGES.parent.parent))
    if not browser:
        print("chromium not found: HTML only", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
