"""The replies the mail path gives when the province's policy refuses a message, citing the article of
that province's regulation and no other province's (docs/filtering.md, "Rules and the articles they
implement").

Each reply cites the article of the ``regulation:`` bound on the rule's policy key when the province's
regulation sets one (Ninh Bình Art 11.6 on the blocked extensions, Hà Nam Art 4.5 on the forwarding
domains, Hà Giang Art 3.4 on the classification stamps); where it sets none the rule is the
province's choice and the reply cites nothing. SMTP replies are ASCII (RFC 5321 §4.2.1), so the
citation is folded (``Ninh Binh Art 11.6``).

    refusal_replies(policy)["executable"]   # 'Thu bi tu choi: ... (Ninh Binh Art 11.6)' under Ninh Bình

No Ansible import: the wiring calls this and the roles only reference the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from congvu.fold import vn_ascii
from congvu.policy import bound_article

__all__ = ["REPLIES", "refusal_replies"]

#: reply -> (text, the policy keys whose bound's article it cites, first found). "%s" in a text is
#: Rspamd's (the offending file name).
REPLIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "executable": ("Thu bi tu choi: tep thuc thi %s bi cam gui nhan qua thu cong vu",
                   ("attachments.blocked_extensions",)),
    # encrypted archives are restricted by the same article as executables where one binds both
    "encrypted_archive": ("Thu bi tu choi: tep nen co mat khau %s khong the kiem tra virus",
                          ("attachments.encrypted_archives", "attachments.blocked_extensions")),
    "classified": ("Thu mang dau MAT (bi mat nha nuoc) khong duoc gui qua thu dien tu",
                   ("classified.action", "classified.stamps")),
    "forward": ("554 5.7.1 Automatic forwarding is only allowed to state-issued mailboxes",
                ("forwarding.allowed_domains",)),
}


def refusal_replies(policy: Mapping[str, Any]) -> dict[str, str]:
    """Each reply of :data:`REPLIES` under ``policy`` (an effective policy), with its citation."""
    out = {}
    for name, (text, keys) in REPLIES.items():
        article = next((a for a in (bound_article(policy, key) for key in keys) if a), None)
        out[name] = f"{text} ({vn_ascii(article, strict=False)})" if article else text
    return out
