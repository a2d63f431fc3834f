"""The REST API: a Jupyter server extension serving `/halion/api/` with the server's own auth.

Enabled on install by `jupyter_server_config.d/halion_nb.json`; it opens the workspace of
`$HALION_HOME` (else the server's root directory) in the server process. Needs the
`[server]` extra; importing this package imports no Jupyter code until the server asks.
"""
from __future__ import annotations

from typing import Any

EXTRA_HINT = 'The halion REST API needs jupyter_server: pip install "halion_nb[server]"'


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """What Jupyter Server loads: one `ExtensionApp`, `HalionApp`."""
    try:
        from .application import HalionApp
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in ("jupyter_server", "tornado", "traitlets"):
            raise ImportError(EXTRA_HINT) from exc
        raise
    return [{"module": "halion_nb.server", "app": HalionApp}]
