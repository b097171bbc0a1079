"""Folding and name splitting (every naming article writes names "không dấu": Hà Nam Art 5,
Gia Lai Art 4, Cần Thơ Art 4.2, Hà Giang Art 4, Ninh Bình Art 5)."""

from __future__ import annotations

import unicodedata

import pytest

from congvu.errors import NamingError
from congvu.fold import fold_token, initials, split_name, vn_ascii

# Every vowel of the Vietnamese alphabet with its six forms: level, huyền, sắc, hỏi, ngã, nặng.
TONED = {
    "a": "aàáảãạ", "ă": "ăằắẳẵặ", "â": "âầấẩẫậ",
    "e": "eèéẻẽẹ", "ê": "êềếểễệ",
    "i": "iìíỉĩị",
    "o": "oòóỏõọ", "ô": "ôồốổỗộ", "ơ": "ơờớởỡợ",
    "u": "uùúủũụ", "ư": "ưừứửữự",
    "y": "yỳýỷỹỵ",
}
BASE = {"a": "a", "ă": "a", "â": "a", "e": "e", "ê": "e", "i": "i", "o": "o", "ô": "o", "ơ": "o",
        "u": "u", "ư": "u", "y": "y"}
CONSONANTS = "bcdghklmnpqrstvx"
CASES = [(form, BASE[vowel]) for vowel, forms in TONED.items() for form in forms]


def test_table_is_complete():
    assert len(CASES) == 72
    assert len({f for f, _ in CASES}) == 72


@pytest.mark.parametrize(("letter", "expected"), CASES)
@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_every_vowel_every_tone_both_cases(letter, expected, form):
    lower = unicodedata.normalize(form, letter)
    upper = unicodedata.normalize(form, letter.upper())
    assert vn_ascii(lower) == expected
    assert vn_ascii(upper) == expected.upper()
    assert vn_ascii(upper, lower=True) == expected


def test_nfd_input_really_has_combining_marks():
    # Guard: the NFD cases above would be meaningless if normalisation did nothing.
    assert len(unicodedata.normalize("NFD", "ậ")) == 3


@pytest.mark.parametrize("letter", list(CONSONANTS))
def test_plain_consonants_unchanged(letter):
    assert vn_ascii(letter) == letter
    assert vn_ascii(letter.upper()) == letter.upper()


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_d_with_stroke(form):
    # đ/Đ have no Unicode decomposition: they must still become d/D.
    assert vn_ascii(unicodedata.normalize(form, "đĐ")) == "dD"
    assert vn_ascii(unicodedata.normalize(form, "Đặng Đình Đạt"), lower=True, sep="") == "dangdinhdat"


@pytest.mark.parametrize(("text", "expected"), [
    ("Nguyễn Thị Thanh Hà", "nguyenthithanhha"),  # Hà Nam Art 5.2.a example
    ("Hoàng Thị Như Quỳnh", "hoangthinhuquynh"),  # Gia Lai Art 4.2.a example
    ("Trần Đình Nguyên", "trandinhnguyen"),
    ("Tiên Sơn", "tienson"),  # Hà Nam Art 5.1.c example
    ("Đak Pơ", "dakpo"),  # Gia Lai Art 4.2.a example
])
def test_seed_names_fold(text, expected):
    assert vn_ascii(text, lower=True, sep="") == expected
    assert vn_ascii(unicodedata.normalize("NFD", text), lower=True, sep="") == expected


@pytest.mark.parametrize("text", [
    "  Nguyễn   Văn Minh ", "Nguyễn\u00a0Văn\u00a0Minh", "Nguyễn\tVăn\nMinh", "Nguyễn\u2009Văn\u3000Minh",
    "Nguyễn\u200b Văn Minh\ufeff",
])
def test_spaces_normalised(text):
    assert vn_ascii(text) == "Nguyen Van Minh"


def test_apostrophes_drop_and_keep():
    assert vn_ascii("Ksor H'Nhiên") == "Ksor HNhien"
    assert vn_ascii("Ksor H’Nhiên", apostrophe="keep") == "Ksor H'Nhien"  # typographic apostrophe
    assert vn_ascii("Siu H\u02bcHương", lower=True, sep="") == "siuhhuong"


def test_hyphen_modes():
    # Gia Lai Art 4.1.c keeps the dash (vanhoa-xahoi); Ninh Bình Art 5.1.a leaves it out.
    assert vn_ascii("Văn hóa – Xã hội", lower=True, sep="") == "vanhoa-xahoi"
    assert vn_ascii("Văn hóa - Xã hội", lower=True, sep="", hyphen="drop") == "vanhoaxahoi"
    assert vn_ascii("Thông tin - Báo chí", hyphen="drop") == "Thong tin Bao chi"
    assert vn_ascii("Lao động-Thương binh", hyphen="space") == "Lao dong Thuong binh"


def test_non_vietnamese_letters_fold_or_fail():
    assert vn_ascii("Café Müller") == "Cafe Muller"
    with pytest.raises(NamingError, match="U\\+5F20"):
        vn_ascii("张 Minh")
    assert vn_ascii("张 Minh", strict=False) == "Minh"


def test_bad_arguments():
    with pytest.raises(NamingError, match="apostrophe"):
        vn_ascii("a", apostrophe="twist")
    with pytest.raises(NamingError, match="hyphen"):
        vn_ascii("a", hyphen="twist")
    with pytest.raises(NamingError, match="expected text"):
        vn_ascii(42)


@pytest.mark.parametrize(("name", "surname", "middles", "given"), [
    ("Nguyễn Văn Minh", "Nguyễn", ("Văn",), "Minh"),
    ("Hoàng Thị Như Quỳnh", "Hoàng", ("Thị", "Như"), "Quỳnh"),
    ("Trương Hoàng Tiến Minh", "Trương", ("Hoàng", "Tiến"), "Minh"),
    ("Kpă Thuyên", "Kpă", (), "Thuyên"),
    ("Ksor H'Nhiên", "Ksor", (), "H'Nhiên"),
    ("Nay Y Phích", "Nay", ("Y",), "Phích"),
    ("Rơ Mah Pơloang", "Rơ Mah", (), "Pơloang"),  # two-word Jrai clan name
    ("Rah Lan Chung", "Rah Lan", (), "Chung"),
    ("Minh", "", (), "Minh"),
    ("  Lê   Thị  Bích  Ngọc  Hà ", "Lê", ("Thị", "Bích", "Ngọc"), "Hà"),
])
def test_split_name(name, surname, middles, given):
    parts = split_name(name)
    assert (parts.surname, parts.middles, parts.given) == (surname, middles, given)


def test_split_name_nfd_and_explicit_surname():
    parts = split_name(unicodedata.normalize("NFD", "Tôn Thất Thuyết"), surname="Tôn Thất")
    assert (parts.surname, parts.middles, parts.given) == ("Tôn Thất", (), "Thuyết")
    with pytest.raises(NamingError, match="does not start"):
        split_name("Nguyễn Văn Minh", surname="Trần")
    with pytest.raises(NamingError, match="no given name"):
        split_name("Tôn Thất", surname="Tôn Thất")
    with pytest.raises(NamingError, match="empty"):
        split_name("   ")


def test_initials():
    assert initials(["Đình", "Ước", "H'Nhiên", "Ánh"]) == "duha"


@pytest.mark.parametrize(("letter", "expected"), CASES)
def test_fold_token_agrees_with_vn_ascii(letter, expected):
    word = f"Đ{letter.upper()}{letter}'-x"
    assert fold_token(unicodedata.normalize("NFD", word)) == f"d{expected}{expected}x"


def test_fold_token_rejects_non_latin():
    with pytest.raises(NamingError, match="cannot fold"):
        fold_token("Минь")
