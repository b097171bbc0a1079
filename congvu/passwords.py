"""Password rules per province and role, initial passwords, and hashing for OpenLDAP and Dovecot.

Rules come from the effective policy (``policy["passwords"][role]``, see docs/policy.md), never from
here; this module only applies them:

- Hà Nam Art 8.2.b: at least 8 characters, upper case, lower case, at least one digit, a special
  character among ``! @ # % $ * &``; Art 8.2.a: change the default password at first login, then every
  3 months.
- Gia Lai Art 9.2: the same classes, at least 12 characters; Art 9.1: change at first login.
- Cần Thơ Art 10.3: at least 8 characters, upper, lower, a special character and a digit, change at
  least every 3 months; Art 11.4: agency/unit (organisation) mailboxes every 2 months.
- Hà Giang Art 12.1: change immediately on receipt (the rest is a documented default).
- Ninh Bình Art 11.1: 8 characters for users, 10 for administrators, lower, upper, digit, special;
  Art 11.2: administrators every 3 months, users every 6 months.

Roles: ``user`` (a personal mailbox), ``admin`` (an administrator account: the operator's, or an agency's
delegated administrator, Gia Lai Art 10.8) and ``organisation`` (an agency or unit mailbox).

Hashing: SHA512-crypt through the passlib API (libpass), stored as ``{CRYPT}$6$rounds=N$salt$hash``.
slapd's ``{CRYPT}`` scheme calls glibc ``crypt(3)``, which knows ``$6$``; Dovecot reads the same string
with ``{CRYPT}`` (or ``{SHA512-CRYPT}``) as the scheme prefix. See docs/passwords.md for the choice of
rounds.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping

from passlib.hash import sha512_crypt

from congvu.errors import PasswordError

ROLES = ("user", "admin", "organisation")
CLASSES = ("upper", "lower", "digit", "special")

#: SHA512-crypt rounds: about 0.1 s per hash on one current core (see docs/passwords.md).
HASH_ROUNDS = 100_000
HASH_PREFIX = "{CRYPT}"
_ACCEPTED_PREFIXES = ("{CRYPT}", "{SHA512-CRYPT}")

#: Characters a person reading a printed initial password can confuse (0/O/o, 1/l/I/|, quotes...).
AMBIGUOUS = frozenset("0Oo1lI|`'\"5S2Z8B")
#: Length of generated initial passwords when the policy minimum is shorter.
DEFAULT_GENERATED_LENGTH = 14

_MESSAGES: dict[str, tuple[str, str]] = {
    "too_short": ("must be at least {n} characters long",
                  "Mật khẩu phải có độ dài tối thiểu {n} ký tự"),
    "missing_upper": ("must contain an upper-case letter (A-Z)",
                      "Mật khẩu phải chứa ít nhất một chữ in hoa (A-Z)"),
    "missing_lower": ("must contain a lower-case letter (a-z)",
                      "Mật khẩu phải chứa ít nhất một chữ thường (a-z)"),
    "missing_digit": ("must contain a digit (0-9)",
                      "Mật khẩu phải chứa ít nhất một chữ số (0-9)"),
    "missing_special": ("must contain a special character among {chars}",
                        "Mật khẩu phải chứa ít nhất một ký tự đặc biệt trong số {chars}"),
    "invalid_character": ("may only contain printable ASCII characters without spaces "
                          "(no Vietnamese letters with diacritics, no spaces)",
                          "Mật khẩu chỉ được dùng ký tự ASCII in được, không dấu tiếng Việt và không có "
                          "khoảng trắng"),
    "same_as_username": ("must not contain the mailbox name",
                         "Mật khẩu không được chứa tên hộp thư"),
}


def _role_rules(policy: Mapping, role: str) -> Mapping:
    if role not in ROLES:
        raise PasswordError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}",
                            source=policy.get("source") if isinstance(policy, Mapping) else None,
                            key="passwords", rule="role")
    if not isinstance(policy, Mapping):
        raise PasswordError("the policy must be a mapping (the effective policy from load_policy)",
                            key="passwords", rule="policy type")
    rules = policy.get("passwords", {}).get(role) if "passwords" in policy else policy.get(role)
    if not isinstance(rules, Mapping):
        raise PasswordError(f"the policy has no password rules for role {role!r}",
                            source=policy.get("source"), key=f"passwords.{role}", rule="required")
    return rules


def _violation(code: str, lang: str | None, **fmt: object) -> dict:
    en, vi = _MESSAGES[code]
    item = {"code": code, "en": en.format(**fmt), "vi": vi.format(**fmt)}
    item["message"] = item["en"] if lang == "en" else item["vi"]
    return item


def password_violations(password: str, policy: Mapping, role: str = "user", lang: str | None = "vi",
                        username: str | None = None) -> list[dict]:
    """Every rule ``password`` breaks for ``role``; an empty list means it is acceptable.

    Each item is ``{"code", "en", "vi", "message"}``; ``message`` is in ``lang`` (``"vi"`` by default,
    since the people who read it are civil servants; ``"en"`` for logs). ``username``, when given, is the
    mailbox local part, which the password must not contain (default: seeds silent, common sense).
    """
    if lang not in (None, "vi", "en"):
        raise PasswordError(f"unknown language {lang!r}; expected 'vi' or 'en'", key="lang", rule="vi|en")
    if not isinstance(password, str):
        raise PasswordError("the password must be a string", key="password", rule="string")
    rules = _role_rules(policy, role)
    specials = rules["special_chars"]
    classes = rules["classes"]
    found: list[dict] = []
    if len(password) < rules["min_length"]:
        found.append(_violation("too_short", lang, n=rules["min_length"]))
    if "upper" in classes and not any("A" <= c <= "Z" for c in password):
        found.append(_violation("missing_upper", lang))
    if "lower" in classes and not any("a" <= c <= "z" for c in password):
        found.append(_violation("missing_lower", lang))
    if "digit" in classes and not any(c in string.digits for c in password):
        found.append(_violation("missing_digit", lang))
    if "special" in classes and not any(c in specials for c in password):
        found.append(_violation("missing_special", lang, chars=" ".join(specials)))
    if any(not (c.isascii() and c.isprintable()) or c.isspace() for c in password):
        found.append(_violation("invalid_character", lang))
    if username and len(username) >= 3 and username.lower() in password.lower():
        found.append(_violation("same_as_username", lang))
    return found


def check_password(password: str, policy: Mapping, role: str = "user") -> None:
    """Raise :class:`PasswordError` listing every broken rule (English and Vietnamese)."""
    found = password_violations(password, policy, role)
    if found:
        text = "; ".join(f"{v['en']} / {v['vi']}" for v in found)
        raise PasswordError(f"password rejected: {text}", source=policy.get("source"),
                            key=f"passwords.{role}", rule=",".join(v["code"] for v in found))


def max_age_days(policy: Mapping, role: str = "user") -> int | None:
    """Days after which a ``role`` password must be changed (``None``: the province sets no interval)."""
    return _role_rules(policy, role)["max_age"]


def generate_password(policy: Mapping, role: str = "user", length: int | None = None) -> str:
    """A random initial password satisfying the ``role`` rules, without ambiguous characters.

    Uses :mod:`secrets`. One character of every required class is placed first, the rest is drawn
    from the union of the classes, then the whole is shuffled with a CSPRNG.
    """
    rules = _role_rules(policy, role)
    size = length if length is not None else max(rules["min_length"], DEFAULT_GENERATED_LENGTH)
    if size < rules["min_length"]:
        raise PasswordError(f"requested length {size} is below the minimum of {rules['min_length']}",
                            source=policy.get("source"), key=f"passwords.{role}.min_length",
                            rule=f">= {rules['min_length']}")
    pools = {
        "upper": string.ascii_uppercase, "lower": string.ascii_lowercase, "digit": string.digits,
        "special": rules["special_chars"],
    }
    pools = {name: "".join(c for c in chars if c not in AMBIGUOUS) for name, chars in pools.items()}
    wanted = [c for c in CLASSES if c in rules["classes"]] or ["lower", "upper", "digit"]
    if size < len(wanted):
        raise PasswordError(f"length {size} cannot hold one character of each of {wanted}",
                            key=f"passwords.{role}", rule="length >= number of classes")
    for name in wanted:
        if not pools[name]:
            raise PasswordError(f"no unambiguous character left in class {name!r}",
                                source=policy.get("source"), key=f"passwords.{role}.special_chars",
                                rule="non-empty class")
    # letters and digits dominate, specials stay few so the password is easy to type on a phone
    alphabet = "".join(pools[n] for n in wanted if n != "special") or pools["special"]
    chars = [secrets.choice(pools[name]) for name in wanted]
    chars += [secrets.choice(alphabet) for _ in range(size - len(chars))]
    for i in range(len(chars) - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    password = "".join(chars)
    if password_violations(password, policy, role):  # pragma: no cover - guarded by construction
        raise PasswordError("generated password does not satisfy the policy", key=f"passwords.{role}",
                            rule="generator")
    return password


def hash_password(password: str, rounds: int = HASH_ROUNDS) -> str:
    """``{CRYPT}$6$rounds=N$salt$hash``: SHA512-crypt that both slapd and Dovecot verify."""
    if not isinstance(password, str) or not password:
        raise PasswordError("cannot hash an empty password", key="password", rule="non-empty")
    if not isinstance(rounds, int) or isinstance(rounds, bool) or not 1000 <= rounds <= 999_999_999:
        raise PasswordError("SHA512-crypt rounds must be between 1000 (glibc's minimum) and 999999999, "
                            f"got {rounds!r}", key="rounds", rule="1000 <= rounds")
    digest = sha512_crypt.using(rounds=rounds).hash(password)
    if "$rounds=" not in digest:  # passlib leaves out rounds=5000 (the implicit default); keep it explicit
        digest = digest.replace("$6$", f"$6$rounds={rounds}$", 1)
    return HASH_PREFIX + digest


def verify_password(password: str, hashed: str) -> bool:
    """True when ``password`` matches a ``{CRYPT}``/``{SHA512-CRYPT}`` SHA512-crypt hash."""
    if not isinstance(hashed, str):
        raise PasswordError("the stored hash must be a string", key="hash", rule="string")
    for prefix in _ACCEPTED_PREFIXES:
        if hashed.upper().startswith(prefix):
            hashed = hashed[len(prefix):]
            break
    if not sha512_crypt.identify(hashed):
        raise PasswordError("not a SHA512-crypt hash ($6$...)", key="hash", rule="{CRYPT}$6$")
    return bool(sha512_crypt.verify(password, hashed))


#: Alias matching the brief's wording.
verify = verify_password
