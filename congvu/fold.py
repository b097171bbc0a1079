"""Vietnamese text folding and personal-name splitting.

Every naming scheme writes names "viết liền, không dấu" (joined, without diacritics): Hà Nam Art 5,
Gia Lai Art 4, Cần Thơ Art 4.2, Hà Giang Art 4, Ninh Bình Art 5. Unicode decomposition removes the
tone and vowel marks but leaves ``đ``/``Đ`` alone (they are letters of their own, not ``d`` plus a
mark), so :func:`vn_ascii` maps them explicitly.

Input may be NFC (precomposed, what most keyboards produce) or NFD (base letter plus combining
marks, what some macOS tools and PDFs produce); both fold the same way. Whitespace of any kind
(non-breaking, thin, ideographic, repeated, leading, trailing) collapses to one separator and
zero-width characters disappear.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from congvu.errors import NamingError

__all__ = ["NameParts", "fold_token", "initials", "split_name", "vn_ascii", "vn_words"]

APOSTROPHE_MODES = ("drop", "keep")
HYPHEN_MODES = ("keep", "drop", "space")

# Apostrophe look-alikes found in rosters typed on different systems ("H'Nhiên", "H’Nhiên").
_APOSTROPHES = "'\u2019\u2018\u02bc\u02bb`\u00b4\u2032"
# Hyphen and dash look-alikes ("Văn hóa – Xã hội" uses an en dash in Gia Lai Art 4.1.c).
_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = re.compile(r"\s+")


def _build_table() -> dict[int, str]:
    """Map every precomposed Latin letter whose decomposition starts with an ASCII letter."""
    table: dict[int, str] = {0x0110: "D", 0x0111: "d"}  # Đ đ: no decomposition in Unicode
    for code in range(0x00C0, 0x2000):
        char = chr(code)
        base = unicodedata.normalize("NFD", char)[0]
        if base.isascii() and base.isalpha() and base != char:
            table[code] = base
    for char in _APOSTROPHES[1:]:
        table[ord(char)] = "'"
    for char in _HYPHENS[1:]:
        table[ord(char)] = "-"
    table.update(_ZERO_WIDTH)
    return table


_TABLE = _build_table()


def vn_ascii(text: str, *, lower: bool = False, apostrophe: str = "drop", hyphen: str = "keep",
             sep: str = " ", strict: bool = True) -> str:
    """Fold Vietnamese text to ASCII.

    ``text``        any string, NFC or NFD.
    ``lower``       lower-case the result (addresses are lower case everywhere).
    ``apostrophe``  ``drop`` (``H'Nhiên`` → ``HNhien``) or ``keep`` (→ ``H'Nhien``; look-alikes such
                    as ``’`` become ``'``).
    ``hyphen``      ``keep`` (dashes become ``-`` and lose the spaces around them, so
                    ``Văn hóa – Xã hội`` → ``Van hoa-Xa hoi``: Gia Lai Art 4.1.c), ``drop`` (the dash
                    disappears: Ninh Bình Art 5.1.a) or ``space`` (the dash separates words).
    ``sep``         what separates words in the result (``""`` joins them: "viết liền").
    ``strict``      raise :class:`NamingError` when a character cannot be folded to ASCII;
                    otherwise such characters are dropped.
    """
    if not isinstance(text, str):
        raise NamingError(f"expected text, got {type(text).__name__} {text!r}", rule="vn_ascii")
    if apostrophe not in APOSTROPHE_MODES:
        raise NamingError(f"apostrophe must be one of {', '.join(APOSTROPHE_MODES)}, got {apostrophe!r}",
                          rule="vn_ascii")
    if hyphen not in HYPHEN_MODES:
        raise NamingError(f"hyphen must be one of {', '.join(HYPHEN_MODES)}, got {hyphen!r}",
                          rule="vn_ascii")
    folded = unicodedata.normalize("NFC", text).translate(_TABLE)
    if not folded.isascii():
        # Marks NFC could not compose onto a letter (e.g. doubled tone marks) go; anything else
        # that is still not ASCII is not Vietnamese.
        folded = "".join(c for c in unicodedata.normalize("NFD", folded)
                         if not unicodedata.combining(c)).translate(_TABLE)
        folded = _SPACES.sub(" ", folded)
        bad = sorted({c for c in folded if not c.isascii()})
        if bad and strict:
            shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in bad)
            raise NamingError(f"cannot fold {shown} in {text!r} to ASCII", rule="vn_ascii")
        folded = "".join(c for c in folded if c.isascii())
    if apostrophe == "drop":
        folded = folded.replace("'", "")
    if hyphen == "drop":
        folded = folded.replace("-", "")
    elif hyphen == "space":
        folded = folded.replace("-", " ")
    words = _SPACES.split(folded.strip())
    if hyphen == "keep":
        words = " ".join(words).replace(" - ", "-").replace("- ", "-").replace(" -", "-").split(" ")
    result = sep.join(w for w in words if w)
    return result.lower() if lower else result


def fold_token(word: str) -> str:
    """One word folded to lower-case ASCII letters and digits only (``H'Nhiên`` → ``hnhien``).

    The fast path of address building: same result as ``vn_ascii(word, lower=True, sep="")``
    with apostrophes, dashes and any other punctuation removed.
    """
    folded = unicodedata.normalize("NFC", word).translate(_TABLE)
    if not folded.isascii():
        folded = vn_ascii(folded, sep="")
    return _NON_ALNUM.sub("", folded.lower())


_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def vn_words(text: str) -> list[str]:
    """Split Vietnamese text into words (any whitespace, dashes as separators), keeping diacritics."""
    text = unicodedata.normalize("NFC", text).translate(_ZERO_WIDTH)
    for char in _HYPHENS:
        text = text.replace(char, " ")
    return text.split()


def initials(words: list[str] | tuple[str, ...]) -> str:
    """Lower-case ASCII initials of ``words`` (``["Đình", "Văn"]`` → ``"dv"``; ``"H'Nhiên"`` → ``"h"``)."""
    out = []
    for word in words:
        folded = vn_ascii(word, lower=True, sep="", hyphen="drop")
        if folded:
            out.append(folded[0])
    return "".join(out)


# Jrai and Bahnar clan names written as two words (Gia Lai); a roster entry can also name its
# surname explicitly (Person.surname) when a name is not in this list.
COMPOUND_SURNAMES = frozenset({
    "rơ mah", "rơ châm", "rơ chăm", "rơ lan", "rơ ô", "rơ com", "rah lan",
})


@dataclass(frozen=True)
class NameParts:
    """A Vietnamese full name split into họ (surname), tên đệm (middle names) and tên (given name)."""

    surname: str
    middles: tuple[str, ...]
    given: str

    @property
    def surname_words(self) -> list[str]:
        return self.surname.split()

    def full(self) -> str:
        return " ".join(p for p in (self.surname, *self.middles, self.given) if p)


def split_name(full_name: str, *, surname: str | None = None) -> NameParts:
    """Split a full name into surname, middle names and given name.

    The first word is the surname, the last the given name, everything between middle names
    (``Hoàng Thị Như Quỳnh`` → ``Hoàng`` / ``Thị Như`` / ``Quỳnh``). A one-word name is a given name
    with no surname. Two-word clan names of Gia Lai (``Rơ Mah Pơloang``) are recognised; any other
    multi-word surname can be given explicitly with ``surname`` (it must start the full name).
    Apostrophes stay inside their word (``Ksor H'Nhiên`` → ``Ksor`` / - / ``H'Nhiên``).
    """
    if not isinstance(full_name, str):
        raise NamingError(f"full name must be text, got {type(full_name).__name__}", rule="split_name")
    text = unicodedata.normalize("NFC", full_name).translate(_ZERO_WIDTH)
    words = text.split()
    if not words:
        raise NamingError(f"full name {full_name!r} is empty", rule="split_name")
    if surname is not None:
        sur_words = unicodedata.normalize("NFC", surname).split()
        if not sur_words or [w.casefold() for w in words[:len(sur_words)]] != [
                w.casefold() for w in sur_words]:
            raise NamingError(f"surname {surname!r} does not start full name {full_name!r}",
                              rule="split_name")
        if len(sur_words) >= len(words):
            raise NamingError(f"full name {full_name!r} has no given name after surname {surname!r}",
                              rule="split_name")
        rest = words[len(sur_words):]
        return NameParts(" ".join(words[:len(sur_words)]), tuple(rest[:-1]), rest[-1])
    if len(words) == 1:
        return NameParts("", (), words[0])
    if len(words) >= 3 and f"{words[0]} {words[1]}".casefold() in COMPOUND_SURNAMES:
        return NameParts(f"{words[0]} {words[1]}", tuple(words[2:-1]), words[-1])
    return NameParts(words[0], tuple(words[1:-1]), words[-1])
