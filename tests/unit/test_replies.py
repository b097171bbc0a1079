"""congvu/replies.py: the refusals' replies cite the article of the province's own regulation, never
another province's (a clause-by-clause read found Hà Nam's system citing Ninh Bình Art 11.6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from congvu.fold import vn_ascii
from congvu.policy import load_policy, province_codes
from congvu.replies import REPLIES, refusal_replies

POLICIES = Path(__file__).resolve().parents[2] / "policies"
PROVINCES = province_codes(POLICIES)
NAMES = ("Ha Nam", "Ninh Binh", "Gia Lai", "Can Tho", "Ha Giang", "Tuyen Quang")


@pytest.mark.parametrize("province", PROVINCES)
def test_every_reply_is_ascii_and_cites_only_the_province_whose_rules_apply(province):
    policy = load_policy(POLICIES / f"{province}.yml")
    issued_by = vn_ascii(policy["province"]["issued_by"], strict=False)
    for name, text in refusal_replies(policy).items():
        assert text.isascii(), (name, text)
        assert text.startswith(REPLIES[name][0]), (name, text)
        others = [n for n in NAMES if n in text and n != issued_by]
        assert not others, (province, name, text)


def test_replies_cite_the_bound_that_binds_the_rule():
    hanam, ninhbinh, hagiang, gialai = (load_policy(POLICIES / f"{p}.yml")
                                        for p in ("hanam", "ninhbinh", "hagiang", "gialai"))
    assert refusal_replies(ninhbinh)["executable"].endswith("(Ninh Binh Art 11.6)")
    # Ninh Bình's Art 11.6 restricts the archives no scanner opens with the same words
    assert refusal_replies(ninhbinh)["encrypted_archive"].endswith("(Ninh Binh Art 11.6)")
    assert refusal_replies(hanam)["forward"] == ("554 5.7.1 Automatic forwarding is only allowed to "
                                                 "state-issued mailboxes (Ha Nam Art 4.5)")
    assert refusal_replies(hagiang)["classified"].endswith("(Ha Giang Art 3.4)")
    # the bound that keeps the rule from off cites the province's own ban on state secrets by mail
    assert refusal_replies(hanam)["classified"].endswith("(Ha Nam Art 4.1)")
    assert refusal_replies(gialai)["classified"].endswith("(Gia Lai Art 3.2)")
    # Hà Nam's regulation binds no extension list: its executables' refusal cites nothing
    assert refusal_replies(hanam)["executable"] == REPLIES["executable"][0]
    # Gia Lai sets no bound on forwarding: the reply is the plain refusal
    assert refusal_replies(gialai)["forward"] == REPLIES["forward"][0]
