"""The figures' colour palette keeps series apart (plots.style.COLORS_EXTENDED)."""


def _cie_lab(hex_colour: str) -> tuple[float, float, float]:
    """sRGB hex → CIE L*a*b* (D65), written out here so the test does not share code with what it checks."""
    def linear(c: float) -> float:
        return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92

    r, g, b = (linear(int(hex_colour[i:i + 2], 16) / 255) for i in (1, 3, 5))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def test_extended_palette_keeps_every_pair_of_colours_apart():
    """A figure with more than eight series (the lab's contrast figure) tells series apart by colour first: no two
    colours of the palette closer than ΔE*76 = 20 (the purple and indigo it once held were 16.8 apart), and no grey
    but black, because the lab's contrast figure draws its two control runs in greys."""
    import itertools
    import math

    from sinkviz.plots.style import COLORS_EXTENDED

    assert len(set(COLORS_EXTENDED)) == len(COLORS_EXTENDED) == 16
    closest = min((math.dist(_cie_lab(a), _cie_lab(b)), a, b) for a, b in itertools.combinations(COLORS_EXTENDED, 2))
    assert closest[0] > 20, closest
    chroma = {c: math.hypot(*_cie_lab(c)[1:]) for c in COLORS_EXTENDED if c != "#000000"}
    assert min(chroma.values()) > 20, min(chroma.items(), key=lambda kv: kv[1])
