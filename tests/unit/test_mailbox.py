"""congvu.mailbox's archive bookkeeping on a real filesystem (docs/lifecycle.md, "Archive"): the
manifests a run reads, by mailbox and by archive, and the export of a mailbox that never received mail
(no doveadm call). doveadm itself is exercised on the layouts (tests/layouts/lifecycle_checks.py)."""

from __future__ import annotations

import datetime as dt
import os

from congvu.mailbox import Mailboxes

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
