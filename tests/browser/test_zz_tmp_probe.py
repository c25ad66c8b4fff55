import pytest
from axe_playwright_python.sync_playwright import Axe
from browser_helpers import ADMIN_EMAIL, ROADS_AGENT
from test_browser_a11y import PAGES

FIX = ".admin > * { min-width:0; } .table-scroll { overflow-x:auto; }"
WRAP = """() => document.querySelectorAll('table').forEach(t => { const d = document.createElement('div');
 d.className = 'table-scroll'; d.setAttribute('role', 'region'); d.setAttribute('tabindex', '0');
 d.setAttribute('aria-label', document.querySelector('h1').textContent); t.replaceWith(d); d.appendChild(t); })"""

@pytest.mark.browser
def test_probe(new_context, live_city):
    for loc in ("fr-FR", "ar"):
        for vw in (320, 360, 1280):
            ctx = new_context(as_user=ADMIN_EMAIL, locale=loc, viewport={"width": vw, "height": 740})
            for name, path, who, _l in PAGES:
                if who != ADMIN_EMAIL: continue
                page = ctx.new_page()
                page.goto(path.format(roads=live_city.department_ids["roads"], agent=live_city.user_ids[ROADS_AGENT]))
                page.evaluate(WRAP)
                page.add_style_tag(content=FIX)
                sw, cw = page.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
                if sw > cw: print("STILL", loc, vw, name, sw, cw)
                if vw == 360 and name in ("admin-audit", "admin-departments"):
                    if name == "admin-audit" and loc == "ar": page.screenshot(path="/tmp/audit-fixed.png")
                    v = [(x["id"], x["impact"]) for x in Axe().run(page).response["violations"]]
                    print("axe", loc, name, v)
                page.close()
