"""Write docs/settings.md from the settings' own declarations (defaults and help text).

Run after adding a setting: `.venv/bin/python scripts/settings_doc.py`. The test suite fails
while a setting is missing from the page.
"""

from __future__ import annotations

from pathlib import Path

from parvis.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = {"secret_key", "sms_inbound_token", "base_url", "secure_cookies", "database_url"}
HEADER = """# Settings

Every setting is an environment variable prefixed `PARVIS_` (or a line in a `.env` file in the
working directory). Defaults suit the demo city on one machine; the ones marked **production**
must be changed before real people use the platform. A test fails when a setting is missing here;
`scripts/settings_doc.py` writes this page from the code.

| variable | default | what it does |
|---|---|---|
"""


def main() -> None:
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = f"`{default}`" if default not in ("", None) else "(empty)"
        help_text = (field.description or "") + (" **production**" if name in PRODUCTION else "")
        rows.append(f"| `PARVIS_{name.upper()}` | {shown} | {help_text} |")
    (ROOT / "docs" / "settings.md").write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
