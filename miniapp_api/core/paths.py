"""Where the data folders are: inside the installed package, or at the top of the checkout.

The wheel carries `static/` and `migrations/` inside `miniapp_api/` (see pyproject.toml); a checkout
keeps them at its top level, beside the packages.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


def _data_folder(name: str) -> Path:
    installed = PACKAGE / name
    return installed if installed.is_dir() else PACKAGE.parent / name


IN_CHECKOUT = (PACKAGE.parent / "pyproject.toml").is_file() and "site-packages" not in PACKAGE.parts
STATIC = _data_folder("static")
MIGRATIONS = _data_folder("migrations")
