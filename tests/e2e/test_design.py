"""The look that matters for use: a legible code, visible focus, room for fingers, no
horizontal scroll on a 320 px screen.  (Every screen of the other modules also goes
through ``screens.check``, which applies the last two at 320 px.)
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from reassort.rules import codes
from tests.e2e.conftest import _LAYOUT_PROBLEMS, NARROWEST
from tests.e2e.steps import login, shown_code

pytestmark = pytest.mark.browser

AMBIGUOUS = "IOlo01"


def test_new_code_is_shown_in_a_legible_monospace_with_unambiguous_characters(page, live):
    site = live()
    voter_id, _email = site.add_voter()
    page.goto(site.reissue_link(voter_id))
    page.get_by_role("button", name="RÉGÉNÉRER MON CODE DE VOTE").click()
    code = shown_code(page)
    assert not set(code) & set(AMBIGUOUS) and not set(codes.ALPHABET) & set(AMBIGUOUS)

    display = page.locator(".code-display")
    family = display.evaluate("e => getComputedStyle(e).fontFamily")
    assert family.startswith('"DejaVu Sans Mono"') and family.endswith("monospace")
    assert page.evaluate("document.fonts.check('16px \"DejaVu Sans Mono\"')")
    for viewport, smallest in (({"width": 1280, "height": 800}, 32), (NARROWEST, 24)):
        page.set_viewport_size(viewport)
        size = float(display.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px"))
        assert size >= smallest, f"code en {size}px à {viewport['width']}px de large"
        # Monospace for real: every character takes the same width, in groups of four.
        widths = page.locator(".code-char").evaluate_all("cs => cs.map(c => c.getBoundingClientRect().width)")
        assert len(widths) == 12 and max(widths) - min(widths) < 0.5
        groups = page.locator(".code-group").all_inner_texts()
        assert ["".join(g.split()) for g in groups] == codes.groups(code)
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_focus_ring_is_clear_on_every_control(page, live):
    site = live()
    _voter_id, email = site.add_voter()
    login(page, site, email)
    page.goto(site.url + "/reassort/question-defi")
    # The phone field shows once its channel is chosen (checked here without moving the focus).
    page.evaluate("document.getElementById('channel-0').checked = true")
    seen = []
    for _ in range(30):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
            const el = document.activeElement;
            if (!el || el === document.body) return null;
            const s = getComputedStyle(el);
            return {name: el.id || el.className || el.tagName, style: s.outlineStyle,
                    width: parseFloat(s.outlineWidth), color: s.outlineColor, offset: parseFloat(s.outlineOffset)};
        }""")
        if focused is None or focused["name"] in {f["name"] for f in seen}:
            break
        seen.append(focused)
    names = [f["name"] for f in seen]
    assert {"answer", "identifier", "channel-0", "phone"} <= set(names), names
    for f in seen:
        assert f["style"] == "solid" and f["width"] >= 2 and f["offset"] >= 2, f
        assert f["color"] == "rgb(10, 118, 246)", f  # 4.4:1 against white, ≥ 3:1 (WCAG 1.4.11)


def test_layout_check_flags_horizontal_scroll_and_small_targets(page, live):
    """The 320 px check that every screen goes through does catch what it looks for."""
    site = live()
    page.goto(site.url + "/connexion")
    page.set_viewport_size(NARROWEST)
    assert page.evaluate(_LAYOUT_PROBLEMS) == []
    page.evaluate("""() => {
        const wide = document.createElement('pre'); wide.textContent = 'x'.repeat(200);
        const tiny = document.createElement('button'); tiny.textContent = 'ok'; tiny.className = 'tiny';
        tiny.style.cssText = 'all: unset';  // CSSOM: allowed by the CSP
        document.querySelector('main').append(wide, tiny);
    }""")
    problems = page.evaluate(_LAYOUT_PROBLEMS)
    assert any(p.startswith("défilement horizontal") for p in problems)
    assert any("« ok »" in p for p in problems)
    expect(page.locator("button.tiny")).to_have_count(1)
