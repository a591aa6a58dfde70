"""The report's HTML fragments, rendered from Jinja2 templates with autoescaping on.

One :class:`jinja2.Environment` (built once) loads ``render/templates/fragments/``;
the formatting functions of :mod:`analysis.render.present` are its filters, so a
template never formats a number itself. Every value a template prints is escaped
unless it is a :class:`markupsafe.Markup`: the only way one fragment's HTML is passed
into another, and always explicit at the call.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

from analysis import config
from analysis.render import present
from analysis.render.textsafe import escape_html

#: Where the fragment templates live (the page template sits one level up).
FRAGMENTS_DIR = config.TEMPLATES_DIR / "fragments"


def _escaped(value: Any) -> Markup:
    """Escape a printed value as :func:`~analysis.render.textsafe.escape_html` does.

    The same entities as the rest of the suite (``&quot;``, ``&#x27;``), and a missing
    value (None, NaN) prints as nothing; markup passes through unchanged.
    """
    return value if isinstance(value, Markup) else Markup(escape_html(value))


@cache
def environment() -> jinja2.Environment:
    """The fragments' Jinja2 environment: autoescape, strict undefined, present's filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(FRAGMENTS_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_escaped,
    )
    env.filters.update(
        pct=present.fmt_pct,
        fmt_int=present.fmt_int,
        ci=present.fmt_ci,
        n_of_n=present.n_of_n,
        markers=present.markers,
    )
    return env


def render(template: str, **values: Any) -> str:
    """Render one fragment template to an HTML string.

    A plain ``str``, as the notebooks concatenate fragments with other HTML; a caller
    embedding one fragment in another wraps it in :class:`markupsafe.Markup` itself.
    """
    return environment().get_template(template).render(**values).strip()
