"""One notation for displayed numbers, used by every table, key, board, label and document.

vbbench stores every metric in raw units (alpha, alpha·pixels, …) and shows it the way papers do:
scaled so the digits that matter sit before the decimal point. The scale is written the papers'
way, as the unit the shown number is counted in: a header ``MAD (×10⁻³)`` over the number 12.3
means the value is 12.3 × 10⁻³ = 0.0123. :data:`NOTATION` says so in one sentence, and every
place that shows scaled numbers prints it.

* :func:`header` — a column header, ``MAD (×10⁻³)``;
* :func:`key` — the same unit in an ASCII name for CSV columns and JSON keys, ``mad_in_1e-3``;
* :func:`exponent` — the power of ten behind both.

A metric's scale is declared once, as :attr:`vbbench.metrics.MetricSpec.display_scale`
(displayed number = raw value × display_scale).

Examples
--------
>>> header("MAD", 1e3), header("SAD", 1e-3), header("Conn", 1.0)
('MAD (×10⁻³)', 'SAD (×10³)', 'Conn')
>>> key("mad", 1e3), key("sad", 1e-3)
('mad_in_1e-3', 'sad_in_1e3')
>>> round(0.0123 * 1e3, 6)
12.3
"""

from __future__ import annotations

import math

__all__ = ["NOTATION", "exponent", "header", "key", "power_of_ten"]

#: The one sentence printed wherever scaled numbers are shown.
NOTATION = "A header such as MAD (×10⁻³) means the numbers are in units of 10⁻³: 12.3 stands for 0.0123."

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def exponent(display_scale: float) -> int:
    """The power of ten a displayed number is counted in: displayed = raw / 10**exponent.

    Parameters
    ----------
    display_scale : float
        Factor from raw to displayed value, a power of ten (1e3 for MAD, 1e-3 for SAD).

    Returns
    -------
    int
        ``-log10(display_scale)``: −3 for MAD (numbers in units of 10⁻³), 3 for SAD.

    Raises
    ------
    ValueError
        If ``display_scale`` is not a positive power of ten.

    Examples
    --------
    >>> exponent(1e3), exponent(1e-3), exponent(1)
    (-3, 3, 0)
    """
    if not display_scale > 0:
        raise ValueError(f"display scale must be a positive power of ten, got {display_scale!r}")
    power = round(math.log10(display_scale))
    if not math.isclose(10.0**power, display_scale, rel_tol=1e-12):
        raise ValueError(f"display scale must be a power of ten, got {display_scale!r}")
    return -power


def power_of_ten(display_scale: float) -> str:
    """``10⁻³`` for a scale of 1e3 (the unit shown numbers are counted in); ``""`` for 1.

    Examples
    --------
    >>> power_of_ten(1e2)
    '10⁻²'
    """
    power = exponent(display_scale)
    return "" if power == 0 else "10" + str(power).translate(_SUPERSCRIPT)


def header(label: str, display_scale: float) -> str:
    """A column header in the papers' notation: ``MAD (×10⁻³)``.

    Parameters
    ----------
    label : str
        Short name of the quantity (``MAD``).
    display_scale : float
        Raw-to-displayed factor (see :func:`exponent`).

    Returns
    -------
    str

    Examples
    --------
    >>> header("MAD", 1e2)
    'MAD (×10⁻²)'
    """
    unit = power_of_ten(display_scale)
    return f"{label} (×{unit})" if unit else label


def key(name: str, display_scale: float) -> str:
    """An ASCII name for a displayed quantity: ``mad_in_1e-3`` reads "MAD in units of 1e-3".

    Examples
    --------
    >>> key("conn", 1e-3), key("n", 1)
    ('conn_in_1e3', 'n')
    """
    power = exponent(display_scale)
    return f"{name}_in_1e{power}" if power else name
