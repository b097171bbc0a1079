"""congvu.tree: which files of a tree a host's copy lacks or holds in another version, and its filter."""

from __future__ import annotations

import hashlib
import subprocess

import pytest
from source_files import load

from congvu.tree import checksums, installed, stale


@pytest.fixture
def tree(tmp_path):
    src = tmp_path / "src"
    (src / "schemes").mkdir(parents=True)
    (src / "a.py").write_text("A = 1\n")
    (src / "b.py").write_text("# Thư điện tử công vụ\n", encoding="utf-8")
    (src / "schemes" / "c.py").write_text("C = 3\n")
    (src / "notes.txt").write_text("not matched\n")
    return src


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_checksums_cover_the_patterns_only(tree):
    assert checksums(tree, ["*.py", "schemes/*.py"]) == {
        "a.py": sha("A = 1\n"), "b.py": sha("# Thư điện tử công vụ\n"), "schemes/c.py": sha("C = 3\n")}


def test_a_missing_source_tree_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        checksums(tmp_path / "nope", ["*.py"])


def test_nothing_installed_means_every_file(tree):
    assert stale(tree, ["*.py", "schemes/*.py"], "", "/usr/local/lib/congvu/congvu") == [
        "a.py", "b.py", "schemes/c.py"]


def test_a_real_sha256sum_listing_of_an_identical_copy_means_nothing(tree, tmp_path):
    dest = tmp_path / "dest" / "congvu"
    dest.parent.mkdir()
    subprocess.run(["cp", "-r", str(tree), str(dest)], check=True)
    listing = subprocess.run(f"find {dest} -type f -name '*.py' -exec sha256sum {{}} +", shell=True,
                             check=True, capture_output=True, text=True).stdout
    assert stale(tree, ["*.py", "schemes/*.py"], listing, str(dest)) == []
    (dest / "schemes" / "c.py").write_text("C = 4\n")  # edited by hand on the host
    (dest / "a.py").unlink()
    listing = subprocess.run(f"find {dest} -type f -name '*.py' -exec sha256sum {{}} +", shell=True,
                             check=True, capture_output=True, text=True).stdout
    assert stale(tree, ["*.py", "schemes/*.py"], listing, str(dest) + "/") == ["a.py", "schemes/c.py"]


def test_lines_outside_the_copy_or_malformed_are_not_trusted():
    good = sha("x")
    listing = (f"{good}  /elsewhere/a.py\n{good[:10]}  /d/b.py\nnonsense\n{good.upper()} */d/c.py\n"
               f"{good}  /d/schemes/e.py\n")
    assert installed(listing, "/d") == {"c.py": good, "schemes/e.py": good}


def test_the_filter_wraps_the_function_and_names_a_bad_source(tree):
    from ansible.errors import AnsibleFilterError

    plugin = load("filter_plugins/tree.py", "tree_filter")
    stale_files = plugin.FilterModule().filters()["congvu_stale_files"]
    assert stale_files(None, str(tree), ["*.py"], "/d") == ["a.py", "b.py"]
    with pytest.raises(AnsibleFilterError, match=r"congvu_stale_files: .*not a directory"):
        stale_files("", str(tree / "missing"), ["*.py"], "/d")
