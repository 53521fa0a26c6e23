"""What may go into an SMS, and how the network counts its length.

Names and item texts are typed by people in a browser and go out in SMS under the business's
sender id, so they are cleaned of invisible and reordering characters first. Lengths follow
GSM 03.38 (3GPP TS 23.038): a text entirely in the GSM 7-bit alphabet takes 160 septets in
one segment, any other text is sent as UCS-2 and takes 70 UTF-16 code units.
"""

from __future__ import annotations

import unicodedata

GSM7_SINGLE = 160
GSM7_PART = 153  # a concatenated part gives 7 septets to the header that joins the parts
UCS2_SINGLE = 70
UCS2_PART = 67

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Each is sent as an escape septet followed by its own, so it counts two.
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

# Control, format (zero-width, bidirectional overrides, soft hyphen...), line and paragraph
# separators, and lone surrogates: none is visible text, several can disguise or reorder it.
_UNWANTED = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

# What NFKD cannot take apart: punctuation with no decomposition, or whose decomposition
# (a spacing accent, a fraction slash) is itself outside GSM-7, and letters that are not a
# base letter plus an accent.
_REPLACEMENTS = {
    # Written as escapes: these look like the ASCII they replace, which is the point.
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2039\u203a`\u00b4", "'"),  # quotes
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),  # double quotes
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),  # dashes, minus
    "\u2026": "...",  # ellipsis
    "\u00a0": " ",  # no-break space
    "\t": " ",
    "\u2022": "*",  # bullet
    "\u00b7": ".",  # middle dot
    "\u2044": "/",  # fraction slash, as in NFKD's 1/2
    "\u00f7": "/",
    "\u00d7": "x",  # multiplication sign
    "\u00a6": "|",
    "\u00a9": "(c)",
    "\u00ae": "(R)",
    "\u0142": "l", "\u0141": "L",  # Polish l with stroke
    "\u0111": "d", "\u0110": "D",  # d with stroke
    "\u00f0": "d", "\u00d0": "D",  # eth
    "\u0127": "h", "\u0126": "H",  # h with stroke
    "\u0131": "i",  # dotless i
    "\u0153": "oe", "\u0152": "OE",
    "\u00fe": "th", "\u00de": "Th",  # thorn
}

# A skin-tone modifier belongs to the emoji before it; cut from it, it shows as a swatch.
_SKIN_TONES = ("\U0001f3fb", "\U0001f3ff")


# Cleaning ----------------------------------------------------------------------------------

def clean_text(raw: str) -> str:
    """``raw`` without control or format characters, its whitespace collapsed to one space.

    A line break, tab or line separator becomes a space (``"a\\nb"`` reads ``"a b"``); any
    other such character (zero-width space, U+202E, BEL, ESC, NUL, soft hyphen, a lone
    surrogate) is removed. Runs of whitespace become one space and the ends are stripped.
    """
    return " ".join("".join(_cleaned(char) for char in raw).split())


def _cleaned(char: str) -> str:
    if unicodedata.category(char) not in _UNWANTED:
        return char
    # A break separated two words: removing it outright would run them together.
    return " " if char.isspace() else ""


def first_name(name: str, *, limit: int = 20) -> str:
    """The first word of the cleaned ``name``, at most ``limit`` characters; "there" if none."""
    words = clean_text(name).split()
    return words[0][:limit] if words else "there"


# Counting ----------------------------------------------------------------------------------

def is_gsm7(text: str) -> bool:
    """Whether ``text`` can be sent in the GSM 7-bit alphabet (extension table included)."""
    return all(char in _GSM7_BASIC or char in _GSM7_EXTENSION for char in text)


def septets(text: str) -> int | None:
    """The GSM-7 length of ``text``, extension characters counting two; None if not GSM-7."""
    return sum(_septets_of(text)) if is_gsm7(text) else None


def ucs2_units(text: str) -> int:
    """The UCS-2 length of ``text``: UTF-16 code units, so an emoji counts two."""
    return sum(_units_of(text))


def segments(text: str) -> int:
    """How many SMS segments the network sends ``text`` in (an empty text still takes one)."""
    if is_gsm7(text):
        return _parts(_septets_of(text), single=GSM7_SINGLE, part=GSM7_PART)
    return _parts(_units_of(text), single=UCS2_SINGLE, part=UCS2_PART)


def fits_one_segment(text: str) -> bool:
    """Whether ``text`` goes out as a single SMS segment."""
    return segments(text) == 1


def _septets_of(text: str) -> list[int]:
    return [2 if char in _GSM7_EXTENSION else 1 for char in text]


def _units_of(text: str) -> list[int]:
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def _parts(sizes: list[int], *, single: int, part: int) -> int:
    if sum(sizes) <= single:
        return 1
    # Senders never split an escape sequence or a surrogate pair between two parts, so a
    # part can end a unit short and the count is not a plain division.
    parts, used = 1, 0
    for size in sizes:
        if used + size > part:
            parts, used = parts + 1, 0
        used += size
    return parts


# Transliterating ---------------------------------------------------------------------------

def to_gsm7(text: str) -> str:
    """``text`` with accented letters and typographic punctuation put in GSM-7 where it can be.

    Curly quotes become straight ones, dashes ``-``, the ellipsis three dots, a no-break
    space a space; a letter outside GSM-7 loses its accents (``ç`` becomes ``c``, ``ũ`` ``u``)
    while the accented letters GSM-7 has (``é``, ``ñ``, ``Ç``, ``ü``...) are kept. What has no
    GSM-7 form (emoji, CJK, Arabic...) stays as it is, and makes the SMS UCS-2.
    """
    return "".join(_gsm7_form(cluster) for cluster in _clusters(text))


def _gsm7_form(cluster: str) -> str:
    composed = unicodedata.normalize("NFC", cluster)
    if is_gsm7(composed):
        return composed
    if composed in _REPLACEMENTS:
        return _REPLACEMENTS[composed]
    bare = "".join(_REPLACEMENTS.get(char, char)
                   for char in unicodedata.normalize("NFKD", composed)
                   if not _is_mark(char))
    # Stripping marks off a letter GSM-7 does not have anyway (Devanagari, Hebrew...) would
    # only damage the text; it is sent in UCS-2 whole instead.
    return bare if is_gsm7(bare) else cluster


def _clusters(text: str) -> list[str]:
    """``text`` in pieces that each start with a character and carry the marks that follow it."""
    clusters: list[str] = []
    for char in text:
        if clusters and (_is_mark(char) or _SKIN_TONES[0] <= char <= _SKIN_TONES[1]):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


# Fitting one segment -----------------------------------------------------------------------

def fit_one_segment(template: str, item: str, placeholder: str = "{item}") -> str:
    """``template`` with ``item`` (put in GSM-7) in place of ``placeholder``, in one segment.

    Only the item is shortened, ending in three dots, until the whole text fits; the rest of
    the template is never touched. If not even the three dots fit, the item is left out
    entirely, and the text is still longer than one segment when the template alone is.
    """
    clusters = _clusters(to_gsm7(item))
    whole = template.replace(placeholder, "".join(clusters))
    if fits_one_segment(whole):
        return whole
    return _longest_fitting(template, placeholder, clusters) or template.replace(placeholder, "")


def _longest_fitting(template: str, placeholder: str, clusters: list[str]) -> str | None:
    # Keeping fewer of the item's clusters never makes the text count more: lengths only
    # shrink, and dropping its last non-GSM character moves it to the roomier alphabet, where
    # a UCS-2 text that fitted 70 units is at most 140 septets. So a binary search finds the
    # longest item that fits.
    best, low, high = None, 0, len(clusters) - 1
    while low <= high:
        kept = (low + high) // 2
        text = template.replace(placeholder, "".join(clusters[:kept]).rstrip() + "...")
        if fits_one_segment(text):
            best, low = text, kept + 1
        else:
            high = kept - 1
    return best
