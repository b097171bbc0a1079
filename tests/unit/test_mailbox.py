"""congvu.mailbox's archives on a real filesystem (docs/lifecycle.md, "Archive"; issue 12 item 3, every
reclaim and leaver, e.g. Hà Nam Art 6.2.c): the copy of a Maildir (message files hard-linked under their
own names, or copied across filesystems), the checks before the live mailbox goes, mail delivered between
the export and the retirement, a message renamed while it is copied, and the manifests a run reads.
Dovecot reading an archive back (``doveadm import``) is exercised on the layouts
(tests/layouts/lifecycle_checks.py)."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os

import pytest

from congvu.mailbox import ArchiveError, Mailboxes, _mailbox_name

DAY = dt.date(2027, 1, 25)


def _boxes(tmp_path):
    return Mailboxes(tmp_path / "vmail", tmp_path / "archive", owner=(os.getuid(), os.getgid()))


def test_manifests_by_mailbox_and_by_archive(tmp_path):
    boxes = _boxes(tmp_path)
    for mail in ("a@hanam.gov.vn", "b@hanam.gov.vn"):
        boxes.export(mail, boxes.home(mail), boxes.dest(mail, DAY), {"keep_until": "2027-03-01"})
    assert [m["mail"] for _, m in boxes.manifests()] == ["a@hanam.gov.vn", "b@hanam.gov.vn"]
    (only,) = boxes.manifests("B@hanam.gov.vn")
    assert only[0] == boxes.dest("b@hanam.gov.vn", DAY) and only[1]["status"] == "exported"
    assert boxes.manifests("c@hanam.gov.vn") == []
    assert boxes.manifest(boxes.dest("a@hanam.gov.vn", DAY))["mail"] == "a@hanam.gov.vn"
    assert boxes.manifest(tmp_path / "nowhere") == {}
    assert boxes.pending() == [boxes.dest("a@hanam.gov.vn", DAY), boxes.dest("b@hanam.gov.vn", DAY)]


def test_a_new_export_replaces_an_unfinished_one_of_the_same_mailbox_only(tmp_path):
    boxes = _boxes(tmp_path)
    first = boxes.dest("a@hanam.gov.vn", DAY)
    boxes.export("a@hanam.gov.vn", boxes.home("a@hanam.gov.vn"), first, {})
    boxes.export("b@hanam.gov.vn", boxes.home("b@hanam.gov.vn"), boxes.dest("b@hanam.gov.vn", DAY), {})
    later = boxes.dest("a@hanam.gov.vn", DAY + dt.timedelta(days=1))
    assert boxes.export("a@hanam.gov.vn", boxes.home("a@hanam.gov.vn"), later, {}) == {}
    assert not first.exists() and later.is_dir()
    assert [d for d, _ in boxes.manifests()] == [later, boxes.dest("b@hanam.gov.vn", DAY)]


MAIL = "nhanroi@hanam.gov.vn"
WORK = ".L&AOA-m vi&Hsc-c"  # "Làm việc" as Dovecot names the folder on disk (modified UTF-7)


def _maildir(boxes):
    """A live mailbox as Dovecot leaves it: the inbox (one new, one read message), a sent folder, a
    Vietnamese folder with a subfolder, Dovecot's own files and indexes, a Sieve script."""
    home = boxes.home(MAIL)
    live = home / "Maildir"
    files = {
        "new/1700000001.M1P1.mail,S=10": "Subject: một\n\nA\n",
        "cur/1700000002.M2P1.mail,S=10:2,S": "Subject: hai\n\nB\n",
        ".Sent/cur/1700000003.M3P1.mail,S=10:2,S": "Subject: ba\n\nC\n",
        f"{WORK}/cur/1700000004.M4P1.mail,S=10:2,Sa": "Subject: bốn\n\nD\n",
        f"{WORK}.2027/new/1700000005.M5P1.mail,S=10": "Subject: năm\n\nE\n",
        "dovecot-uidlist": "3 V1 N3\n",
        "dovecot-keywords": "0 $Important\n",
        "subscriptions": "Sent\n",
        "dovecot.index": "index",
        "dovecot.index.cache": "cache",
        "dovecot.list.index.log": "log",
        "dovecot-uidlist.lock": "",
        f"{WORK}/maildirfolder": "",
    }
    for name, text in files.items():
        path = live / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (live / "tmp").mkdir()
    (live / "tmp" / "half-written").write_text("x")
    (home / "sieve").mkdir()
    (home / "sieve" / "congvu.sieve").write_text("keep;\n")
    (home / ".dovecot.sieve").symlink_to("sieve/congvu.sieve")
    return home


def test_mailbox_names_are_decoded_as_doveadm_shows_them():
    assert _mailbox_name("") == "INBOX"
    assert _mailbox_name(".Sent") == "Sent"
    assert _mailbox_name(WORK + ".2027") == "Làm việc/2027"
    assert _mailbox_name(".Th&AbA- &AREA4w- g&Hu0-i") == "Thư đã gửi"
    assert _mailbox_name(".B&AOE-o c&AOE-o &- K&Hr8- ho&HqE-ch") == "Báo cáo & Kế hoạch"


def test_an_export_links_every_message_under_its_own_name_and_leaves_the_indexes_out(tmp_path):
    boxes = _boxes(tmp_path)
    home = _maildir(boxes)
    dest = boxes.dest(MAIL, DAY)
    counts = boxes.export(MAIL, home, dest, {"article": "Hà Nam Art 6.2.c"})
    assert counts == {"INBOX": 2, "Sent": 1, "Làm việc": 1, "Làm việc/2027": 1}
    live, copy = home / "Maildir", dest / "Maildir"
    for name in ("cur/1700000002.M2P1.mail,S=10:2,S", f"{WORK}/cur/1700000004.M4P1.mail,S=10:2,Sa",
                 f"{WORK}.2027/new/1700000005.M5P1.mail,S=10"):
        assert os.stat(copy / name).st_ino == os.stat(live / name).st_ino  # a link: no disk, flags kept
    for name in ("dovecot-uidlist", "dovecot-keywords", "subscriptions", f"{WORK}/maildirfolder"):
        assert (copy / name).read_bytes() == (live / name).read_bytes()
    for name in ("dovecot.index", "dovecot.index.cache", "dovecot.list.index.log", "dovecot-uidlist.lock",
                 "tmp/half-written"):
        assert not (copy / name).exists(), name
    assert (copy / "tmp").is_dir() and (copy / ".Sent" / "new").is_dir()
    manifest = boxes.manifest(dest)
    assert manifest["status"] == "exported" and manifest["counts"]["Làm việc/2027"] == 1
    assert manifest["article"] == "Hà Nam Art 6.2.c"


def test_finish_takes_the_mail_delivered_since_the_export_then_removes_the_live_mailbox(tmp_path):
    boxes = _boxes(tmp_path)
    home = _maildir(boxes)
    dest = boxes.dest(MAIL, DAY)
    boxes.export(MAIL, home, dest, {})
    live = home / "Maildir"
    # delivered while the account was still active, one of them by Sieve into a folder made meanwhile
    (live / "new" / "1700000009.M9P1.mail,S=10").write_text("Subject: muộn\n\nF\n")
    (live / ".Mới" / "new").mkdir(parents=True)
    (live / ".Mới" / "new" / "1700000010.M10P1.mail,S=10").write_text("Subject: muộn\n\nG\n")
    # a flag change after the export: the same message under another name, not a new one
    os.rename(live / "new" / "1700000001.M1P1.mail,S=10", live / "cur" / "1700000001.M1P1.mail,S=10:2,S")
    manifest = boxes.finish(dest)
    assert manifest["status"] == "complete" and manifest["late_messages"] == 2
    assert manifest["files"]["INBOX"] == 3 and manifest["files"]["Mới"] == 1
    assert not home.exists()
    copy = dest / "Maildir"
    assert (copy / "new" / "1700000009.M9P1.mail,S=10").read_text().startswith("Subject: muộn")
    assert os.readlink(dest / ".dovecot.sieve") == "sieve/congvu.sieve"
    assert (dest / "sieve" / "congvu.sieve").read_text() == "keep;\n"
    assert boxes.pending() == []
    assert json.loads((dest / "manifest.json").read_text())["status"] == "complete"


def test_a_message_renamed_while_the_folder_is_read_is_found_under_its_new_name(tmp_path):
    class Racing(Mailboxes):
        renamed = False

        def _place(self, source, target):
            if not self.renamed and source.name == "1700000001.M1P1.mail,S=10":
                Racing.renamed = True  # Dovecot marks it read just as the export reaches it
                os.rename(source, source.parent.parent / "cur" / (source.name + ":2,S"))
            super()._place(source, target)

    boxes = Racing(tmp_path / "vmail", tmp_path / "archive", owner=(os.getuid(), os.getgid()))
    home = _maildir(boxes)
    counts = boxes.export(MAIL, home, boxes.dest(MAIL, DAY), {})
    assert Racing.renamed and counts["INBOX"] == 2
    assert (boxes.dest(MAIL, DAY) / "Maildir" / "cur" / "1700000001.M1P1.mail,S=10:2,S").is_file()


def test_across_filesystems_the_messages_are_copied(tmp_path, monkeypatch):
    def no_link(source, target):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    boxes = _boxes(tmp_path)
    home = _maildir(boxes)
    dest = boxes.dest(MAIL, DAY)
    assert boxes.export(MAIL, home, dest, {})["INBOX"] == 2
    name = "cur/1700000002.M2P1.mail,S=10:2,S"
    copied, live = dest / "Maildir" / name, home / "Maildir" / name
    assert os.stat(copied).st_ino != os.stat(live).st_ino and copied.read_bytes() == live.read_bytes()
    assert not boxes.link


def _losing(tmp_path, lost):
    """Mailboxes whose copy silently misses the message files ``lost`` picks."""
    class Losing(Mailboxes):
        def _place(self, source, target):
            if not lost(source):
                super()._place(source, target)

    return Losing(tmp_path / "vmail", tmp_path / "archive", owner=(os.getuid(), os.getgid()))


def test_an_archive_that_lacks_a_live_message_keeps_the_live_mailbox(tmp_path):
    boxes = _boxes(tmp_path)
    home = _maildir(boxes)
    with pytest.raises(ArchiveError, match=r"lacks messages of the mailbox: Làm việc \(1\)"):
        _losing(tmp_path, lambda source: "M4P1" in source.name).export(MAIL, home, boxes.dest(MAIL, DAY), {})
    assert (home / "Maildir" / WORK / "cur").is_dir()

    dest = boxes.dest(MAIL, DAY)
    boxes.export(MAIL, home, dest, {})
    (late := home / "Maildir" / "new" / "1700000011.M11P1.mail,S=10").write_text("late")
    with pytest.raises(ArchiveError, match=r"lacks messages of INBOX \(1\)"):
        _losing(tmp_path, lambda source: source == late).finish(dest)
    assert late.is_file() and boxes.manifest(dest)["status"] == "exported"
    assert boxes.pending() == [dest]


def test_an_archive_exported_by_the_former_doveadm_code_is_made_again_by_name(tmp_path):
    # before the hard-link copy, doveadm backup wrote the archive under names of its own and kept the
    # live names in seen.json; finishing such an archive copies the live mailbox again, no duplicate
    boxes = _boxes(tmp_path)
    home = _maildir(boxes)
    dest = boxes.dest(MAIL, DAY)
    boxes.export(MAIL, home, dest, {})
    renamed = dest / "Maildir" / "cur" / "1800000000.M1P9.dsync,S=10:2,S"
    (dest / "Maildir" / "cur" / "1700000002.M2P1.mail,S=10:2,S").rename(renamed)
    (dest / "seen.json").write_text('{"": ["1700000002.M2P1.mail,S=10"]}')
    manifest = boxes.finish(dest)
    assert manifest["status"] == "complete" and manifest["files"]["INBOX"] == 2
    assert not renamed.exists() and not (dest / "seen.json").exists()
    assert (dest / "Maildir" / "cur" / "1700000002.M2P1.mail,S=10:2,S").is_file()
