"""gui.graph_tab.theme: the font helpers the canvas items paint with."""

from __future__ import annotations

from PySide6.QtGui import QFontMetricsF

from gui.graph_tab import theme


def test_metrics_belong_to_the_font_asked_about_even_after_another_font_is_gone(qapp):
    # The cache is keyed by id(): a font freed and another made in its place gets the same
    # id, and without the cache keeping its font alive it got the old font's metrics.
    wrong = []
    for i in range(200):
        font = theme.font(6.0 + (i % 2) * 30.0)
        if theme.metrics(font).height() != QFontMetricsF(font).height():
            wrong.append(i)
        del font
    assert wrong == []


def test_fitting_font_shrinks_only_text_that_does_not_fit(qapp):
    font = theme.font(12.0)
    text = "0.123456789"
    wide = theme.metrics(font).horizontalAdvance(text)
    assert theme.fitting_font(font, text, wide + 1) is font
    smaller = theme.fitting_font(font, text, wide / 2)
    assert smaller.pointSizeF() < font.pointSizeF()
    assert theme.fitting_font(font, text, wide / 2) is smaller  # made once
