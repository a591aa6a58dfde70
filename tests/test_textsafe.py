import math

import pandas as pd
import pytest

from analysis.render.textsafe import escape_html, lc_first, neutralise_formula, safe_filename


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<script>alert('x')</script>", "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"),
        ('a "b" & c', "a &quot;b&quot; &amp; c"),
        ("plain", "plain"),
        (None, ""),
        (math.nan, ""),
        (pd.NA, ""),
        (3, "3"),
    ],
)
def test_escape_html(raw, expected):
    assert escape_html(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(1)", "\t=1", "\r=1", "=", "-"],
)
def test_neutralise_formula_prefixes_dangerous_text(raw):
    out = neutralise_formula(raw)
    assert out == "'" + raw


@pytest.mark.parametrize("raw", ["Norwich", "Waveney and Yare", "", " =1", "'=1", "a=b"])
def test_neutralise_formula_leaves_safe_text(raw):
    assert neutralise_formula(raw) == raw


@pytest.mark.parametrize("raw", [-5, 3.2, None])
def test_neutralise_formula_leaves_non_text(raw):
    assert neutralise_formula(raw) is raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Data summary: O4", "data-summary-o4"),
        ("../../etc/passwd", "etc-passwd"),
        ("Norwich & King's Lynn", "norwich-king-s-lynn"),
        ("Café Ñandú", "cafe-nandu"),
        ("", "untitled"),
        (None, "untitled"),
        ("...", "untitled"),
        ("CON", "con-file"),
        ("aux.png", "aux.png-file"),
        ("breakdown-r_rosh_review", "breakdown-r_rosh_review"),
        ('=HYPERLINK("http://x")', "hyperlink-http-x"),
    ],
)
def test_safe_filename(raw, expected):
    assert safe_filename(raw) == expected


def test_safe_filename_is_bounded_and_portable():
    out = safe_filename("x" * 500 + '/\\:*?"<>|')
    assert len(out) <= 100
    assert all(c.isalnum() or c in "._-" for c in out)
    assert not out.startswith(".")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Gender", "gender"),
        ("OASys RoSH classification", "OASys RoSH classification"),
        ("PO", "PO"),
        ("", ""),
        ("a", "a"),
    ],
)
def test_lc_first_leaves_acronyms(text, expected):
    assert lc_first(text) == expected
