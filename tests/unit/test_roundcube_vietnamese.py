"""Every text Roundcube shows has Vietnamese (roles/roundcube, docs/webmail.md).

The effective vi_VN text of a key is congvu_security's completion (localization/upstream/vi_VN/) over
Debian's vi_VN over en_US. For every en_US key of Roundcube and of the plugins the role enables
(managesieve, password; congvu_security's own texts too) it must be non-empty, not the English text
(except a few invariant units and codes), carry Vietnamese diacritics (except a few Vietnamese words
written without them) and keep the English text's $placeholders.

The en_US/vi_VN files come from Debian's own packages (`apt-get download roundcube-core
roundcube-plugins`, unpacked under .cache/roundcube-debian/<version>/), so a Roundcube upgrade that
adds strings fails here; ROUNDCUBE_DEB_ROOT may point at an unpacked tree instead. Without apt or
network the package-dependent tests skip (they fail under CI=true). The .inc files are parsed with a
small regex parser (no php on the host).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "roles/roundcube/files/usr/share/roundcube/plugins/congvu_security"
UPSTREAM_VI = PLUGIN / "localization/upstream/vi_VN"
TEMPLATE = ROOT / "roles/roundcube/templates/etc/roundcube/config.inc.php.j2"
PACKAGES = ("roundcube-core", "roundcube-plugins")

# Texts that stay as they are in Vietnamese: units, codes, product and format names.
INVARIANT = {"B", "KB", "MB", "GB", "Unicode", "RFC 2047/2231 (MS Outlook)", "MIME:",
             "YYYY", "YY", "MM", "DD", "D", "M"}
# Vietnamese words that are written without diacritics (Debian's vi_VN and ours).
PLAIN_VIETNAMESE = {"Sau", "Cao", "cao", "Nam", "Xe", "Xoay", "Phim", "In ra", "Trang Web", "…"}
VIETNAMESE_LETTERS = re.compile(
    "[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]", re.IGNORECASE)
PLACEHOLDER = re.compile(r"\$[a-z_]+", re.IGNORECASE)

# --- a parser for Roundcube's localization files (PHP arrays of string literals) -------------------

_STRING = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\""""
_ASSIGNMENT = re.compile(
    r"\$(?:labels|messages)\[(?P<key>" + _STRING + r")\]\s*=\s*"
    r"(?P<value>(?:" + _STRING + r")(?:\s*\.\s*(?:" + _STRING + r"))*)\s*;", re.DOTALL)
_DOUBLE_QUOTED_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "$": "$"}


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    if literal[0] == "'":
        return re.sub(r"\\([\\'])", r"\1", body)
    return re.sub(r"\\(.)", lambda m: _DOUBLE_QUOTED_ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


def parse_inc(text: str) -> dict[str, str]:
    """$labels[...] and $messages[...] assignments of a .inc file, in order (later ones win)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    text = re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE)
    return {_unquote(m["key"]): "".join(_unquote(p) for p in re.findall(_STRING, m["value"], re.DOTALL))
            for m in _ASSIGNMENT.finditer(text)}


def read_inc(*paths: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in paths:
        if path.is_file():
            texts.update(parse_inc(path.read_text(encoding="utf-8")))
    return texts


def test_parser_handles_roundcube_literals():
    text = r"""<?php
/* $labels['commented'] = 'no'; */
// $labels['alsocommented'] = 'no';
$labels = [];
$labels['a'] = 'It\'s $n \\ ok';
$labels['b'] = "Line one.
Line \"two\"\n";
$messages['c'] = 'x' . "y";
$labels['a'] = 'later wins';
"""
    assert parse_inc(text) == {"a": "later wins", "b": 'Line one.\nLine "two"\n', "c": "xy"}


# --- Debian's package files -----------------------------------------------------------------------

def _unpack_debian_packages() -> Path:
    if os.environ.get("ROUNDCUBE_DEB_ROOT"):
        return Path(os.environ["ROUNDCUBE_DEB_ROOT"])
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise RuntimeError("apt-get/dpkg-deb not available")
    show = subprocess.run(["apt-cache", "show", "--no-all-versions", PACKAGES[0]],
                          capture_output=True, text=True, check=False)
    version = re.search(r"^Version: (\S+)", show.stdout, re.MULTILINE)
    if not version:
        raise RuntimeError(f"apt does not know {PACKAGES[0]}: {show.stderr.strip()}")
    cache = ROOT / ".cache" / "roundcube-debian" / version.group(1).replace(":", "_")
    tree = cache / "root"
    if not (tree / "usr/share/roundcube/program/localization/en_US/labels.inc").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        got = subprocess.run(["apt-get", "download", *PACKAGES], cwd=cache, capture_output=True, text=True,
                             check=False)
        debs = sorted(cache.glob("*.deb"))
        if got.returncode != 0 or len(debs) < len(PACKAGES):
            raise RuntimeError(f"apt-get download failed: {got.stderr.strip()[-300:]}")
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
    return tree


@pytest.fixture(scope="module")
def roundcube() -> Path:
    try:
        return _unpack_debian_packages() / "usr/share/roundcube"
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Debian's Roundcube packages are needed under CI: {exc}")
        pytest.skip(f"Debian's Roundcube packages unavailable: {exc}")


def enabled_plugins() -> list[str]:
    """The plugins the role's config.inc.php enables (besides congvu_security, which is ours)."""
    match = re.search(r"\$config\['plugins'\] = \[([^\]]*)\]", TEMPLATE.read_text(encoding="utf-8"))
    return re.findall(r"'([a-z_]+)'", match.group(1))


def domains(roundcube: Path):
    """(name, en_US texts, effective vi_VN texts) for core and each enabled Debian plugin."""
    loc = roundcube / "program/localization"
    yield ("core",
           read_inc(loc / "en_US/labels.inc", loc / "en_US/messages.inc"),
           read_inc(loc / "vi_VN/labels.inc", loc / "vi_VN/messages.inc", UPSTREAM_VI / "core.inc"))
    for plugin in enabled_plugins():
        if plugin == "congvu_security":
            continue
        base = roundcube / "plugins" / plugin / "localization"
        assert (base / "en_US.inc").is_file(), f"plugin {plugin} not in the package"
        vietnamese = read_inc(base / "vi_VN.inc", UPSTREAM_VI / f"{plugin}.inc")
        yield plugin, read_inc(base / "en_US.inc"), vietnamese
    own = PLUGIN / "localization"
    yield "congvu_security", read_inc(own / "en_US.inc"), read_inc(own / "vi_VN.inc")


def problems(english: dict[str, str], vietnamese: dict[str, str]) -> list[str]:
    found = []
    for key, en in english.items():
        vi = vietnamese.get(key, "").strip()
        if not vi:
            found.append(f"{key}: no Vietnamese for {en!r}")
        elif vi == en.strip() and vi not in INVARIANT:
            found.append(f"{key}: still English {en!r}")
        elif not VIETNAMESE_LETTERS.search(vi) and vi not in INVARIANT | PLAIN_VIETNAMESE:
            found.append(f"{key}: no diacritics in {vi!r}")
        elif sorted(PLACEHOLDER.findall(vi)) != sorted(PLACEHOLDER.findall(en)):
            found.append(f"{key}: placeholders {PLACEHOLDER.findall(en)} became "
                         f"{PLACEHOLDER.findall(vi)} in {vi!r}")
    return found


def test_the_role_enables_the_plugins_checked_here():
    assert enabled_plugins() == ["managesieve", "password", "congvu_security"]


def test_every_text_has_vietnamese(roundcube):
    report = []
    counted = 0
    for name, english, vietnamese in domains(roundcube):
        assert len(english) > 10, f"{name}: en_US not parsed"
        counted += len(english)
        report += [f"{name}.{line}" for line in problems(english, vietnamese)]
    assert counted > 1000
    assert report == [], f"{len(report)} texts a civil servant would see wrongly:\n" + "\n".join(report)


def test_completion_only_names_existing_keys(roundcube):
    """A key the package no longer has is dead weight (or a typo that leaves the English in place)."""
    # the password plugin asks for this one under its own name and falls back to core's text
    deliberate = {"password.successfullysaved"}
    stray = []
    for name, english, _ in domains(roundcube):
        path = UPSTREAM_VI / f"{name}.inc"
        if path.is_file():
            stray += [f"{name}.{k}" for k in read_inc(path)
                      if k not in english and f"{name}.{k}" not in deliberate]
    assert stray == []


def test_completion_files_are_ours_and_vietnamese():
    """Runs without the package: the completion parses, is non-empty and Vietnamese."""
    files = sorted(UPSTREAM_VI.glob("*.inc"))
    assert [f.name for f in files] == ["core.inc", "managesieve.inc", "password.inc"]
    for path in files:
        raw = path.read_text(encoding="utf-8")
        texts = parse_inc(raw)
        assert len(texts) == raw.count("$labels[") + raw.count("$messages["), f"{path.name}: unparsed lines"
        plain = {k: v for k, v in texts.items()
                 if not VIETNAMESE_LETTERS.search(v) and v not in INVARIANT | PLAIN_VIETNAMESE}
        assert plain == {}, f"{path.name}: {plain}"
