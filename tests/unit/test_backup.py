"""The backup schedule and retention from each province's policy (congvu/backup.py), the wiring's
backup contents per host, and the restore command's archive choice (roles/backup/files). The role
and its restore are tested on the all-in-one layout (tests/layouts/backup_checks.py)."""

from __future__ import annotations

import datetime as dt
import importlib.machinery
import importlib.util
from pathlib import Path

import pytest
import yaml
from test_wiring import ADDRS, GROUPS_SPLIT, wired

from congvu.backup import (
    KEEP_LAST_MIN,
    SERVER_ROOT,
    SERVER_USER,
    BackupPolicyError,
    on_calendar,
    remote,
    schedule,
    stale_keys,
)
from congvu.policy import load_policy
from congvu.wiring import BACKUP_CONTENTS, WiringError, layout, wire

ROOT = Path(__file__).resolve().parents[2]
RESTORE = ROOT / "roles" / "backup" / "files" / "usr" / "local" / "sbin" / "congvu-restore"


def policy(province: str) -> dict:
    return load_policy(ROOT / "policies" / f"{province}.yml", province=province)


def test_ha_giang_backs_up_every_friday_at_the_end_of_the_working_day():
    # Hà Giang Art 10.2.d: "vào cuối giờ làm việc ngày thứ 6 hàng tuần"; kept by Tuyên Quang.
    for province in ("hagiang", "tuyenquang"):
        plan = schedule(policy(province))
        assert plan["on_calendar"] == "Fri *-*-* 17:30:00"
        assert plan["keep_within_days"] == 56
        assert plan["keep_last"] == 9  # eight weekly copies, one more


@pytest.mark.parametrize("province", ["hanam", "gialai", "cantho", "ninhbinh", "ninhbinh2025"])
def test_the_other_provinces_back_up_nightly_and_keep_a_month(province):
    """The operator's backup duty without a schedule in the seed (Hà Nam Art 10.7, Gia Lai Art 8.3.b,
    Cần Thơ Art 9.8, Ninh Bình Art 15.5: "lưu trữ dự phòng"): nightly at 23:00, a month kept."""
    plan = schedule(policy(province))
    assert plan == {"on_calendar": "*-*-* 23:00:00", "keep_within_days": 30, "keep_last": 31}


@pytest.mark.parametrize(("weekday", "time", "expected"), [
    ("daily", "7:05", "*-*-* 07:05:00"),
    ("monday", "00:00", "Mon *-*-* 00:00:00"),
    ("sunday", "23:59", "Sun *-*-* 23:59:00"),
])
def test_on_calendar(weekday, time, expected):
    assert on_calendar(weekday, time) == expected


@pytest.mark.parametrize(("weekday", "time", "named"), [
    ("friday", "24:00", r"backup\.time"), ("friday", "17h30", r"backup\.time"),
    ("fri", "17:30", r"backup\.weekday"),
])
def test_bad_schedules_name_the_key(weekday, time, named):
    with pytest.raises(BackupPolicyError, match=named):
        on_calendar(weekday, time)


def test_short_retention_still_keeps_a_few_archives():
    plan = schedule({"backup": {"weekday": "daily", "time": "23:00", "keep": "1 day"}})
    assert plan["keep_last"] == KEEP_LAST_MIN
    with pytest.raises(BackupPolicyError, match=r"backup\.keep"):
        schedule({"backup": {"weekday": "daily", "time": "23:00", "keep": 0}})


def test_the_kinds_of_content_agree_across_wiring_role_and_argument_specs():
    kinds_wired = {"system", *(k for held in BACKUP_CONTENTS.values() for k in held)}
    role = ROOT / "roles" / "backup"
    paths = yaml.safe_load((role / "vars" / "main.yml").read_text(encoding="utf-8"))["__backup_paths"]
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    choices = specs["argument_specs"]["main"]["options"]["backup_contents"]["choices"]
    assert kinds_wired == set(paths) == set(choices)


def test_every_host_backs_up_what_its_groups_hold():
    hosts, groups, _, _ = wired(ROOT / "inventories" / "demo-split")
    contents = {host: v["backup_contents"] for host, v in hosts.items()}
    assert contents == {
        "ldap.gialai.gov.vn": ["system", "directory", "lifecycle"],  # the roster apply's audit log
        "ldap2.gialai.gov.vn": ["system", "directory", "lifecycle"],  # each provider keeps its own copy
        "mx.gialai.gov.vn": ["system", "mailboxes", "lifecycle"],
        "mx2.gialai.gov.vn": ["system", "mailboxes", "lifecycle"],  # each mailbox server its own copy
        "filter.gialai.gov.vn": ["system", "dkim", "rspamd"],
        "webmail.gialai.gov.vn": ["system", "webmail"],
    }
    for host, kinds in contents.items():
        assert ("mailboxes" in kinds) == (host in groups["mail_servers"])
        assert ("directory" in kinds) == (host in groups["ldap_servers"])
        assert ("dkim" in kinds) == (host in groups["filter_servers"])
        assert ("rspamd" in kinds) == (host in groups["filter_servers"])
        assert ("webmail" in kinds) == (host in groups["webmail_servers"])
    allinone = wired(ROOT / "inventories" / "demo")[0]
    assert next(iter(allinone.values()))["backup_contents"] == [
        "system", "directory", "lifecycle", "mailboxes", "dkim", "rspamd", "webmail"]


@pytest.fixture(scope="module")
def restore():
    loader = importlib.machinery.SourceFileLoader("congvu_restore", str(RESTORE))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def archive(name: str, when: str) -> dict:
    return {"name": name, "time": dt.datetime.fromisoformat(when)}


def test_restore_takes_the_newest_archive_of_the_day_asked(restore):
    found = [archive("a", "2026-11-27T17:30:02"), archive("b", "2026-12-04T17:30:01"),
             archive("c", "2026-12-04T21:00:00"), archive("d", "2026-12-11T17:30:05")]
    assert restore.pick(found, dt.date(2026, 12, 4))["name"] == "c"
    assert restore.pick(found, dt.date(2026, 12, 10))["name"] == "c"
    assert restore.pick(found, None)["name"] == "d"
    with pytest.raises(restore.RestoreError, match="on or before 2026-11-01"):
        restore.pick(found, dt.date(2026, 11, 1))
    with pytest.raises(restore.RestoreError, match="no archive"):
        restore.pick([], None)
    with pytest.raises(restore.RestoreError, match="congvu-restore list"):
        restore.named(found, "zz")


def test_restore_counts_messages_in_every_folder(restore, tmp_path):
    for folder in ("", ".Sent", ".Ho&AOE-so"):
        for sub in ("cur", "new", "tmp"):
            (tmp_path / folder / sub).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "cur" / "1.mail:2,S").write_text("x")
        (tmp_path / folder / "tmp" / "partial").write_text("x")  # not delivered: not counted
    (tmp_path / "new" / "2.mail").write_text("x")
    assert restore.count_messages(tmp_path) == 4


SLAPCAT = """dn: uid=nva,o=stttt,ou=organisations,dc=hanam,dc=gov,dc=vn
objectClass: inetOrgPerson
objectClass: congvuMailAccount
uid: nva
cn:: Tmd1eeG7hW4gVsSDbiBB
sn: Nguyen
mail: nguyenvana@hanam.gov.vn
congvuMailAlias: nva@hanam.gov.vn
userPassword:: e0NSWVBUfSQ2JGFiYyR4eXo=
description: a long value folded
  over two lines
entryUUID: 6b1d2c3e-0000-0000-0000-000000000001
createTimestamp: 20261201000000Z
pwdChangedTime: 20261201000000Z
pwdReset: TRUE

dn: uid=ttb,o=stttt,ou=organisations,dc=hanam,dc=gov,dc=vn
objectClass: inetOrgPerson
uid: ttb
mail: tranthib@hanam.gov.vn
"""


def test_restore_reads_a_slapcat_dump(restore):
    entries = restore.parse_ldif(SLAPCAT)
    assert [dn.split(",")[0] for dn, _ in entries] == ["uid=nva", "uid=ttb"]
    dn, attrs = restore.find_entry(entries, "NVA@hanam.gov.vn")  # an alias finds it too
    assert dn.startswith("uid=nva,")
    assert attrs["cn"] == ["Nguyễn Văn A".encode()]
    assert attrs["userPassword"] == [b"{CRYPT}$6$abc$xyz"]
    assert attrs["description"] == [b"a long value folded over two lines"]
    assert restore.find_entry(entries, "khongco@hanam.gov.vn") is None
    kept = restore.user_attrs(attrs)
    assert "entryUUID" not in kept and "pwdChangedTime" not in kept and "createTimestamp" not in kept
    assert kept["pwdReset"] == [b"TRUE"]  # an administrator's flag: it goes back with the entry


def test_restore_puts_back_only_what_differs(restore):
    archived = restore.parse_ldif(SLAPCAT)[0][1]
    live = {**restore.user_attrs(archived), "cn": [b"Sai ten"], "congvuLockReason": [b"x"],
            "entryUUID": [b"other"], "modifyTimestamp": [b"20261202000000Z"]}
    assert restore.differences(archived, live) == {"cn": ["Nguyễn Văn A".encode()], "congvuLockReason": []}
    assert restore.differences(archived, restore.user_attrs(archived)) == {}
    assert restore.ldif_value("cn", "Nguyễn".encode()).startswith("cn:: ")
    assert restore.ldif_value("uid", b"nva") == "uid: nva"


# --- the backup server (docs/backup.md, "Backup server") -------------------------------------------

def test_with_a_backup_server_every_other_host_keeps_its_repository_there():
    hosts, groups, addresses, _ = wired(ROOT / "inventories" / "demo-split")
    [server] = groups["backup_servers"]
    assert server == "webmail.gialai.gov.vn"
    clients = [h for h in hosts if h != server]
    for host in clients:
        assert hosts[host]["backup_remote"] == {
            "server": server, "user": SERVER_USER, "path": f"{SERVER_ROOT}/{host}",
            "authorized_keys": f"{hosts[server]['backup_server_home']}/.ssh/authorized_keys"}
    # the server's own copy (its /etc, its webmail database) stays on its disk
    assert hosts[server]["backup_remote"] == {}
    # its SSH is open to those hosts, by address, for Borg
    [rule] = [r for r in hosts[server]["common_firewall_rules"] if r["port"] == 22]
    assert sorted(rule["sources"]) == sorted(addresses[h] for h in clients)
    assert rule["comment"].startswith("borg from ")
    assert not any(r["port"] == 22 for h in clients for r in hosts[h]["common_firewall_rules"])
    # the server knows them: a key line of any other host is removed from its authorized_keys
    assert hosts[server]["backup_server_clients"] == clients
    assert all(hosts[h]["backup_server_clients"] == [] for h in clients)


def test_the_key_of_a_host_gone_from_the_layout_is_found_and_no_other_line():
    forced = 'command="borg serve --append-only --restrict-to-repository /srv/congvu-backup/{0}",restrict'
    text = "\n".join([
        f"{forced.format('mail.gialai.gov.vn')} ssh-ed25519 AAAAC3 congvu-backup@mail.gialai.gov.vn",
        f"{forced.format('ldap.gialai.gov.vn')} ssh-ed25519 AAAAC4 congvu-backup@ldap.gialai.gov.vn  ",
        f"{forced.format('cu.gialai.gov.vn')} ssh-ed25519 AAAAC5 congvu-backup@cu.gialai.gov.vn",
        "ssh-ed25519 AAAAC6 operator@laptop",  # not the backup role's: never touched
        "# congvu-backup@comment.only is not a key line of a host", ""])
    keep = ["mail.gialai.gov.vn", "ldap.gialai.gov.vn"]
    assert stale_keys(text, keep) == ["cu.gialai.gov.vn"]
    assert stale_keys(text, [*keep, "cu.gialai.gov.vn"]) == []
    assert stale_keys("", keep) == []


def test_without_a_backup_server_repositories_stay_on_each_host():
    allinone = wired(ROOT / "inventories" / "demo")[0]
    [v] = allinone.values()
    assert v["backup_remote"] == {}
    assert remote(None, "mx.hanam.gov.vn") == {}
    assert remote("backup.hanam.gov.vn", "backup.hanam.gov.vn") == {}


def test_a_dedicated_backup_server_is_a_host_of_the_layout():
    groups = {**GROUPS_SPLIT, "backup_servers": ["backup.hanam.gov.vn"]}
    addresses = {**ADDRS, "backup.hanam.gov.vn": "192.0.2.20"}
    lay = layout(groups, addresses)
    assert lay.hosts[-1] == "backup.hanam.gov.vn"
    assert lay.groups_of("backup.hanam.gov.vn") == ["backup_servers"]
    hosts = wire(policy("hanam"), None, groups, addresses)
    assert hosts["backup.hanam.gov.vn"]["backup_contents"] == ["system"]
    assert all(hosts[h]["backup_remote"]["server"] == "backup.hanam.gov.vn" for h in ADDRS)
    assert hosts["mx.hanam.gov.vn"]["backup_remote"]["server"] == "backup.hanam.gov.vn"


def test_a_second_backup_server_is_refused_and_an_unreachable_one_named():
    two = {**GROUPS_SPLIT, "backup_servers": ["b1.hanam.gov.vn", "b2.hanam.gov.vn"]}
    lists = r"group backup_servers lists b1\.hanam\.gov\.vn, b2\.hanam\.gov\.vn: one host at most"
    with pytest.raises(WiringError, match=lists):
        wire(policy("hanam"), None, two, {**ADDRS, "b1.hanam.gov.vn": "192.0.2.21",
                                          "b2.hanam.gov.vn": "192.0.2.22"})
    one = {**GROUPS_SPLIT, "backup_servers": ["b1.hanam.gov.vn"]}
    with pytest.raises(WiringError, match=r"b1\.hanam\.gov\.vn: no address known, but it offers borg"):
        wire(policy("hanam"), None, one, ADDRS)


def test_a_host_restore_puts_back_every_kind_of_content_but_the_configuration(restore):
    kinds = set(yaml.safe_load((ROOT / "roles/backup/vars/main.yml").read_text())["__backup_paths"])
    # system (/etc) is rebuilt by site.yml; everything else a host backs up comes back
    assert set(restore.HOST_ORDER) == set(restore.HOST_RESTORE) == kinds - {"system"}
    assert restore.HOST_ORDER[0] == "directory"  # the others look accounts up in it
    assert set(restore.HOST_WHAT) == set(restore.HOST_ORDER)


def test_a_host_restore_finds_the_directory_database(restore, tmp_path, monkeypatch):
    config = tmp_path / "cn=config"
    config.mkdir()
    (config / "olcDatabase={1}mdb.ldif").write_text(
        "dn: olcDatabase={1}mdb\nolcDatabase: {1}mdb\nolcDbDirectory: /var/lib/ldap\n", encoding="utf-8")
    real = restore.Path
    monkeypatch.setattr(restore, "Path", lambda p: real(str(p).replace("/etc/ldap/slapd.d/cn=config",
                                                                       str(config))))
    assert str(restore.mdb_directory()) == "/var/lib/ldap"
    (config / "olcDatabase={1}mdb.ldif").unlink()
    with pytest.raises(restore.RestoreError, match="no olcDbDirectory"):
        restore.mdb_directory()


def test_a_host_restore_leaves_out_what_it_is_told_to_and_says_why(restore, monkeypatch, capsys):
    """docs/backup.md, "Several directory servers": restore.yml passes --skip directory where another
    directory server still holds the accounts; the rest of the host still comes back."""
    done = []
    monkeypatch.setitem(restore.SETTINGS, "contents", ["system", "directory", "lifecycle"])
    monkeypatch.setattr(restore, "choose", lambda day, name: {"name": "ldap-2026-12-05"})
    fakes = {k: (lambda chosen, stamp, k=k: done.append(k)) for k in restore.HOST_ORDER}
    monkeypatch.setattr(restore, "HOST_RESTORE", fakes)
    assert restore.restore_host(None, None, True, ["directory"]) == 0
    out = capsys.readouterr().out
    assert done == ["lifecycle"]
    assert "directory: not loaded from the archive" in out and "replication" in out
    with pytest.raises(SystemExit):
        restore.main(["host", "--skip", "mailbox"])  # not a kind: argparse refuses it
