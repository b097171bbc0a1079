#!/usr/bin/env python3
"""Backup figures (issue 13): Borg's time and size for a generated mail store and directory dump, to a
repository on the mail host's disk and to one on a backup server over SSH, side by side in one run.

    source scripts/env.sh && python bench/backup_bench.py [--mailboxes 2000] [--messages 20]
        [--accounts 20000] [--attachment-share 0.05] [--seed 13] [--keep] [--json]

It creates the podman network ``congvu-bench-backup`` and two throwaway systemd containers from the
project's Debian 12 image: ``congvu-bench-backup-host`` (the mail host) and
``congvu-bench-backup-server`` (the backup server). Both repositories are set up the way the roles
do it (roles/backup/tasks/remote.yml, roles/backup_server/tasks/main.yml, roles/backup/vars/main.yml):
the account ``congvu-borg`` on the server, the host's own ed25519 key allowed only
``borg serve --append-only --restrict-to-repository`` of its repository, the server's host key
pinned, repokey-blake2 encryption with a generated passphrase read through BORG_PASSCOMMAND,
``zstd,3`` compression, the backup command's ``borg create`` options and the daily policies' retention.

It writes Maildirs under /var/vmail/<domain>/<local part>/Maildir inside the host with a Python
script piped into the container (Vietnamese text, a few messages with a base64 attachment), and pipes
in a slapcat-style LDIF of the directory as /var/backups/congvu/staging/directory/data.ldif. For
each repository it times, with time.monotonic around ``podman exec``: the first (full) archive, an
incremental one after one new message in 10% of the mailboxes, an unchanged one, ``borg prune``,
``borg compact``, and the full restore (``borg extract`` of the newest archive into an empty
directory, then a check of the file count, the bytes and every path's size). It prints one table (or
JSON with ``--json``) and removes the containers and the network (unless ``--keep``). Figures go to
docs/backup.md ("Figures").
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import math
import os
import random
import resource
import secrets
import shlex
import shutil
import subprocess
import sys
import time
import unicodedata
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "localhost/congvu-debian12:latest"
NETWORK = "congvu-bench-backup"
HOST = "congvu-bench-backup-host"
SERVER = "congvu-bench-backup-server"
DOMAIN = "hanam.gov.vn"
BASE = "dc=hanam,dc=gov,dc=vn"
PEERCRED = "gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"
MAIL_START = int(dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp())  # the messages' dates
MAIL_END = int(dt.datetime(2026, 11, 30, tzinfo=dt.UTC).timestamp())

# The roles' values (roles/backup/defaults/main.yml, roles/backup/vars/main.yml,
# roles/backup_server/defaults/main.yml).
VMAIL = "/var/vmail"
STAGING = "/var/backups/congvu/staging"
LOCAL_REPO = "/var/backups/congvu/borg"
STATE = "/var/lib/congvu/backup"
PASSFILE = "/etc/congvu/backup.passphrase"
SSH_KEY = "/etc/congvu/backup_ssh_key"
KNOWN_HOSTS = "/etc/congvu/backup_known_hosts"
BORG_USER = "congvu-borg"
BORG_HOME = "/var/lib/congvu-borg"
SERVER_ROOT = "/srv/congvu-backup"
REMOTE_PATH = f"{SERVER_ROOT}/{HOST}"
COMPRESSION = "zstd,3"
KEEP_WITHIN_DAYS, KEEP_LAST = 30, 31  # the daily policies (docs/backup.md, "Schedule and retention")
SOURCES = [VMAIL, f"{STAGING}/directory"]  # the mailboxes and directory kinds of __backup_paths
CREATE_OPTIONS = ["--compression", COMPRESSION, "--exclude-caches", "--exclude", "*/.congvu-tmp-*",
                  "--exclude", STATE]
BORG_ENV = {
    "BORG_PASSCOMMAND": f"cat {PASSFILE}",
    "BORG_BASE_DIR": STATE,
    "BORG_RELOCATED_REPO_ACCESS_IS_OK": "no",
    "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "no",
}
REPOS = {
    "local": {**BORG_ENV, "BORG_REPO": LOCAL_REPO},
    "remote": {**BORG_ENV, "BORG_REPO": f"ssh://{BORG_USER}@{SERVER}{REMOTE_PATH}",
               "BORG_RSH": f"ssh -i {SSH_KEY} -o IdentitiesOnly=yes -o BatchMode=yes "
                           f"-o UserKnownHostsFile={KNOWN_HOSTS} -o StrictHostKeyChecking=yes "
                           "-o ConnectTimeout=20 -o ServerAliveInterval=30"},
}

INSTALL = """
set -e
export DEBIAN_FRONTEND=noninteractive
for i in 1 2 3 4 5 6; do
  apt-get update -qq && break
  [ "$i" = 6 ] && exit 1
  sleep $((i * 5))
done
apt-get install -y -qq --no-install-recommends {packages} >/dev/null
borg --version
"""

SERVER_SETUP = f"""
set -e
useradd --system --home-dir {BORG_HOME} --create-home --shell /bin/sh \
  --comment 'congvu-mail Borg repositories' {BORG_USER}
usermod -p '!' {BORG_USER}
install -d -m 0750 -o {BORG_USER} -g {BORG_USER} {BORG_HOME}
install -d -m 0700 -o {BORG_USER} -g {BORG_USER} {BORG_HOME}/.ssh {SERVER_ROOT}
systemctl enable --now ssh >/dev/null 2>&1
"""

HOST_SETUP = f"""
set -e
install -d -m 0750 /etc/congvu
install -d -m 0700 {Path(LOCAL_REPO).parent} {STAGING} {STAGING}/directory {STATE}
ssh-keygen -q -t ed25519 -N '' -C congvu-backup@{HOST} -f {SSH_KEY}
"""

# Run inside the host: count the files and bytes under some roots, and hash the sorted list of
# (path relative to the root's parent, size), so a restore can be compared with its source.
SURVEY = r"""
import hashlib, json, os, sys
base, roots = sys.argv[1], sys.argv[2:]
rows, count, size = [], 0, 0
for root in roots:
    for d, _, names in os.walk(os.path.join(base, root.lstrip("/"))):
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                s = os.path.getsize(p)
                rows.append(f"{os.path.relpath(p, base)}\t{s}")
                count += 1
                size += s
rows.sort()
print(json.dumps({"files": count, "bytes": size,
                  "listing": hashlib.sha256("\n".join(rows).encode()).hexdigest()}))
"""

# Piped into the host's python3 with its parameters appended: writes the Maildirs (mode "full") or
# one new message into a share of the inboxes (mode "increment"); prints a JSON summary.
GENERATE = r'''
import base64, hashlib, html, json, math, os, random, sys, time
from multiprocessing import Pool

P = json.loads(__PARAMS__)  # noqa: F821 (replaced by the parameters before the script runs)

OPENINGS = [
    "Thực hiện chỉ đạo của Ủy ban nhân dân tỉnh tại Văn bản số {n}/UBND-KGVX ngày {d}/{m}/{y}",
    "Căn cứ Kế hoạch số {n}/KH-UBND ngày {d}/{m}/{y} của Ủy ban nhân dân tỉnh",
    "Theo đề nghị của Chánh Văn phòng Sở",
    "Để kịp thời tổng hợp, báo cáo Thường trực Tỉnh ủy",
    "Nhằm nâng cao hiệu quả quản lý, sử dụng hệ thống thư điện tử công vụ",
    "Trên cơ sở kết quả rà soát quý {q} năm {y}",
    "Tiếp theo Công văn số {n}/STTTT-BCVT ngày {d}/{m}/{y}",
    "Thực hiện Quyết định số {n}/QĐ-UBND về việc ban hành quy chế quản lý",
    "Sau khi xem xét hồ sơ do đơn vị gửi đến",
    "Căn cứ chức năng, nhiệm vụ được giao",
]
ACTORS = [
    "Sở Thông tin và Truyền thông đề nghị các cơ quan, đơn vị",
    "Văn phòng Ủy ban nhân dân tỉnh đề nghị",
    "Ủy ban nhân dân các huyện, thị xã, thành phố",
    "đồng chí {name} chủ trì, phối hợp với các phòng chuyên môn",
    "các phòng, ban, đơn vị trực thuộc",
    "Phòng Bưu chính - Viễn thông",
    "bộ phận một cửa của Ủy ban nhân dân xã",
    "Trung tâm Công nghệ thông tin và Truyền thông",
    "Thủ trưởng các cơ quan, đơn vị",
]
ACTIONS = [
    "rà soát, cập nhật danh sách tài khoản thư điện tử của cán bộ, công chức",
    "báo cáo kết quả thực hiện nhiệm vụ chuyển đổi số",
    "tổ chức triển khai thực hiện nghiêm túc các nội dung nêu trên",
    "gửi văn bản góp ý dự thảo quy chế",
    "chuẩn bị đầy đủ nội dung, tài liệu phục vụ cuộc họp",
    "thực hiện nghiêm quy định về bảo đảm an toàn, an ninh thông tin",
    "cử cán bộ tham dự đầy đủ, đúng thành phần",
    "cung cấp số liệu về tình hình sử dụng văn bản điện tử có ký số",
    "đôn đốc cán bộ thay đổi mật khẩu theo định kỳ",
    "thu hồi hộp thư của cán bộ đã nghỉ hưu, chuyển công tác",
    "lập dự toán kinh phí duy trì hệ thống",
    "tiếp nhận, xử lý văn bản đến trên phần mềm quản lý văn bản",
]
TAILS = [
    "trước ngày {d}/{m}/{y}",
    "theo đúng thời gian quy định",
    "qua hệ thống thư điện tử công vụ của tỉnh",
    "để tổng hợp, báo cáo Ủy ban nhân dân tỉnh",
    "và chịu trách nhiệm về tính chính xác của số liệu báo cáo",
    "đồng thời gửi bản giấy về Văn phòng Sở để lưu hồ sơ",
    "(chi tiết theo phụ lục gửi kèm)",
    "để Sở tổng hợp trình cấp có thẩm quyền xem xét, quyết định",
    "liên hệ đồng chí {name}, số điện thoại 0226.38{n}",
]
SUBJECTS = [
    "V/v triển khai kế hoạch chuyển đổi số năm {y}",
    "Báo cáo kết quả thực hiện nhiệm vụ quý {q}/{y}",
    "Giấy mời họp giao ban tháng {m}/{y}",
    "V/v góp ý dự thảo Quyết định ban hành Quy chế quản lý thư điện tử công vụ",
    "Thông báo lịch trực cơ quan dịp nghỉ lễ",
    "V/v cung cấp số liệu phục vụ tổng kết năm {y}",
    "Kế hoạch kiểm tra công tác cải cách hành chính năm {y}",
    "Đề nghị cập nhật danh sách cán bộ, công chức sử dụng hộp thư",
    "Công văn số {n}/STTTT-VP ngày {d}/{m}/{y}",
    "V/v tăng cường bảo đảm an toàn thông tin mạng",
    "Thông báo kết luận của Giám đốc Sở tại cuộc họp ngày {d}/{m}",
    "Tờ trình phê duyệt dự toán kinh phí năm {y}",
    "Re: V/v hỗ trợ cài đặt chữ ký số",
    "Fwd: Hướng dẫn sử dụng phần mềm quản lý văn bản",
]
ATTACHMENTS = [
    ("Cong van {n}-STTTT.pdf", "application/pdf"),
    ("Bao cao quy {q} nam {y}.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("Phu luc so lieu {n}.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("Anh hien truong {n}.jpg", "image/jpeg"),
    ("Du thao quy che.pdf", "application/pdf"),
]
FOLDERS = [("", 0.55), (".Sent", 0.25), (P["folder_cvd"], 0.12), (P["folder_cvd_2026"], 0.08)]
FLAGS = [("S", 0.75), ("", 0.10), ("RS", 0.08), ("FS", 0.05), ("FRS", 0.02)]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
START, END = P["start"], P["end"]  # the messages' dates


def pick(rng, weighted):
    x, acc = rng.random(), 0.0
    for value, w in weighted:
        acc += w
        if x < acc:
            return value
    return weighted[-1][0]


def fill(rng, text):
    return text.format(n=rng.randint(10, 9999), d=rng.randint(1, 28), m=rng.randint(1, 12),
                       y=rng.choice((2024, 2025, 2026)), q=rng.randint(1, 4),
                       name=rng.choice(P["senders"])[0])


def encoded(text):
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def rfc2822(t):
    g = time.gmtime(t + 7 * 3600)
    return (f"{DAYS[g.tm_wday]}, {g.tm_mday:02d} {MONTHS[g.tm_mon - 1]} {g.tm_year} "
            f"{g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d} +0700")


def body(rng):
    target = min(40000, int(rng.lognormvariate(math.log(2000), 0.6)))
    paragraphs = [f"Kính gửi: {rng.choice(ACTORS).split(' đề nghị')[0]}."]
    size = 0
    while size < target:
        sentences = [f"{fill(rng, rng.choice(OPENINGS))}, {fill(rng, rng.choice(ACTORS))} "
                     f"{fill(rng, rng.choice(ACTIONS))} {fill(rng, rng.choice(TAILS))}."
                     for _ in range(rng.randint(2, 5))]
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        size += len(paragraph.encode())
    signer = rng.choice(P["senders"])
    paragraphs.append(f"Trân trọng./.\n\n{signer[0]}\n{rng.choice(P['positions'])}\n"
                      "Sở Thông tin và Truyền thông tỉnh Hà Nam")
    return paragraphs


def message(rng, owner, when, outgoing):
    """One message to (or, in Sent, from) the mailbox's owner [name, address]."""
    sender, to = rng.choice(P["senders"]), owner[1]
    if outgoing:
        sender, to = owner, sender[1]
    subject = fill(rng, rng.choice(SUBJECTS))
    paragraphs = body(rng)
    plain = "\n\n".join(paragraphs) + "\n"
    sig = base64.b64encode(rng.randbytes(256)).decode()
    delivered = [] if outgoing else [  # a copy in Sent was never delivered
        f"Return-Path: <{sender[1]}>",
        f"Delivered-To: {to}",
        f"Received: from mail.{P['domain']} (mail.{P['domain']} [10.10.0.5])\n\tby mail.{P['domain']} "
        f"(Postfix) with ESMTPS id {rng.randbytes(6).hex().upper()}\n\tfor <{to}>; {rfc2822(when)}",
    ]
    head = [
        *delivered,
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={P['domain']}; s=mail;\n\tt={when}; "
        f"h=from:to:subject:date:message-id;\n\tbh={base64.b64encode(rng.randbytes(32)).decode()};\n\tb="
        + "\n\t".join(sig[i:i + 72] for i in range(0, len(sig), 72)),
        f"Message-ID: <{rng.randbytes(12).hex()}@{P['domain']}>",
        f"Date: {rfc2822(when)}",
        f"From: {encoded(sender[0])} <{sender[1]}>",
        f"To: <{to}>",
        f"Subject: {encoded(subject)}",
        "MIME-Version: 1.0",
    ]
    text_part = "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n" + plain
    if rng.random() < 0.4:  # many clients send an HTML alternative, base64-encoded
        markup = "<html><body>" + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs) + "</body></html>"
        alt = "alt-" + rng.randbytes(8).hex()
        text_part = (f'Content-Type: multipart/alternative; boundary="{alt}"\n\n--{alt}\n{text_part}\n'
                     f"--{alt}\nContent-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n"
                     + base64.encodebytes(markup.encode()).decode() + f"--{alt}--\n")
    attached = 0
    if rng.random() < P["attachment_share"]:
        lo, hi = math.log(P["attachment_min"]), math.log(P["attachment_max"])
        attached = int(math.exp(rng.uniform(lo, hi)))
        name, kind = rng.choice(ATTACHMENTS)
        mixed = "mix-" + rng.randbytes(8).hex()
        text = (f'Content-Type: multipart/mixed; boundary="{mixed}"\n\n--{mixed}\n{text_part}\n--{mixed}\n'
                f'Content-Type: {kind}; name="{fill(rng, name)}"\nContent-Transfer-Encoding: base64\n'
                f'Content-Disposition: attachment; filename="{fill(rng, name)}"\n\n'
                + base64.encodebytes(rng.randbytes(attached)).decode() + f"--{mixed}--\n")
    else:
        text = text_part
    data = ("\n".join(head) + "\n" + text).encode()
    return data, attached


def deliver(rng, maildir, folder, data, when, seq, flags):
    size = len(data)
    unique = f"{when}.M{rng.randint(0, 999999)}P{rng.randint(1000, 65000)}Q{seq}.mail"
    lines = data.count(b"\n")
    name = f"{unique},S={size},W={size + lines}"
    if flags is None:
        path = os.path.join(maildir, folder, "new", name)
    else:
        path = os.path.join(maildir, folder, "cur", f"{name}:2,{flags}")
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (when, when))
    return name, size


def mailbox(index):
    local, name = P["mailboxes"][index]
    rng = random.Random(f"{P['seed']}-{local}")
    maildir = os.path.join(P["vmail"], P["domain"], local, "Maildir")
    owner = [name, f"{local}@{P['domain']}"]
    uidlists = {}
    for folder, _ in FOLDERS:
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(maildir, folder, sub), exist_ok=True)
        if folder:
            open(os.path.join(maildir, folder, "maildirfolder"), "wb").close()
        uidlists[folder] = []
    sigma = 0.9
    count = round(rng.lognormvariate(math.log(P["messages"]) - sigma * sigma / 2, sigma))
    stamps = sorted(rng.randint(START, END) for _ in range(count))
    size = attached = attachments = 0
    for seq, when in enumerate(stamps):
        folder = pick(rng, FOLDERS)
        data, extra = message(rng, owner, when, folder == ".Sent")
        if folder == "" and rng.random() < 0.08:
            flags = None
        else:
            flags = "S" if folder == ".Sent" else pick(rng, FLAGS)
        base, n = deliver(rng, maildir, folder, data, when, seq, flags)
        uidlists[folder].append(base)
        size += n
        attached += extra
        attachments += extra > 0
    for folder, names in uidlists.items():
        validity = START + rng.randint(0, 10000)
        with open(os.path.join(maildir, folder, "dovecot-uidlist"), "w") as f:
            f.write(f"3 V{validity} N{len(names) + 1} G{rng.randbytes(16).hex()}\n")
            f.writelines(f"{i} :{base}\n" for i, base in enumerate(names, 1))
    with open(os.path.join(maildir, "subscriptions"), "w") as f:
        f.write("V\t2\n\n" + "".join(f"{folder[1:]}\n" for folder, _ in FOLDERS if folder))
    return count, size, attachments, attached


def increment(index):
    local, name = P["mailboxes"][index]
    rng = random.Random(f"{P['seed']}-{local}-increment")
    maildir = os.path.join(P["vmail"], P["domain"], local, "Maildir")
    when = END + 86400 + rng.randint(0, 3600)
    data, extra = message(rng, [name, f"{local}@{P['domain']}"], when, False)
    base, size = deliver(rng, maildir, "", data, when, 10**6, None)
    uidlist = os.path.join(maildir, "dovecot-uidlist")
    with open(uidlist) as f:
        header, *lines = f.readlines()
    fields = header.split()
    nxt = int(next(x for x in fields if x.startswith("N"))[1:])
    fields = [f"N{nxt + 1}" if x.startswith("N") else x for x in fields]
    with open(uidlist, "w") as f:
        f.write(" ".join(fields) + "\n")
        f.writelines(lines)
        f.write(f"{nxt} :{base}\n")
    return 1, size, int(extra > 0), extra


if __name__ == "__main__":
    os.umask(0o077)  # as Dovecot keeps the mail store: the vmail user's alone
    if P["mode"] == "full":
        work, indexes = mailbox, range(len(P["mailboxes"]))
    else:
        chooser = random.Random(f"{P['seed']}-increment")
        share = max(1, round(len(P["mailboxes"]) * P["share"]))
        work, indexes = increment, sorted(chooser.sample(range(len(P["mailboxes"])), share))
    with Pool(P["workers"]) as pool:
        results = pool.map(work, indexes, chunksize=16)
    print(json.dumps({"mailboxes": len(results), "messages": sum(r[0] for r in results),
                      "bytes": sum(r[1] for r in results), "attachments": sum(r[2] for r in results),
                      "attachment_bytes": sum(r[3] for r in results)}))
'''


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, input=input, capture_output=True, text=True, check=False)
    if check and done.returncode:
        sys.exit(f"failed ({done.returncode}): {shlex.join(cmd)[:300]}\n{done.stdout[-2000:]}\n"
                 f"{done.stderr[-3000:]}")
    return done


def bash(container: str, script: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(["podman", "exec", "-i", container, "bash", "-s"], input=script, check=check)


def timed(container: str, argv: list[str], env: dict[str, str] | None = None, workdir: str | None = None,
          ok: tuple[int, ...] = (0,)) -> tuple[float, str]:
    """Run one command in a container; its wall time (with podman exec) and its stdout. Borg's exit 1
    (a warning) passes where ``ok`` allows it, as in the backup command."""
    cmd = ["podman", "exec"]
    for key, value in (env or {}).items():
        cmd += ["-e", f"{key}={value}"]
    if workdir:
        cmd += ["-w", workdir]
    start = time.monotonic()
    done = subprocess.run([*cmd, container, *argv], capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if done.returncode not in ok:
        sys.exit(f"failed ({done.returncode}) in {container}: {shlex.join(argv)}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def ulimits() -> list[str]:
    """Podman gives a container 1048576 open files and 32768 processes; where this process may not
    raise its limits that far (a sandbox), runc fails to start the container, so pass ours."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard >= 1048576:
        return []
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nproc = 32768 if nproc == resource.RLIM_INFINITY else min(nproc, 32768)
    return ["--ulimit", f"nofile={hard}:{hard}", "--ulimit", f"nproc={nproc}:{nproc}"]


def start(name: str) -> None:
    run(["podman", "run", "-d", "--name", name, "--hostname", name, "--network", NETWORK,
         "--cap-add", "SYS_ADMIN", "--systemd", "always", *ulimits(), IMAGE, "/sbin/init"])


def wait_systemd(name: str) -> None:
    for _ in range(90):
        state = run(["podman", "exec", name, "systemctl", "is-system-running"], check=False).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(1)
    sys.exit(f"{name}: systemd did not come up (state {state!r})")


def cleanup() -> None:
    for name in (HOST, SERVER):
        run(["podman", "rm", "-f", "-t", "0", name], check=False)
    if run(["podman", "network", "exists", NETWORK], check=False).returncode == 0:
        run(["podman", "network", "rm", NETWORK], check=False)


# --- generated data ------------------------------------------------------------------------------------

def names_file() -> Path:
    for path in (Path("/work/shared/data/vn_names.yml"), ROOT.parent / "shared/data/vn_names.yml",
                 ROOT / "data/vn_names.yml"):
        if path.is_file():
            return path
    sys.exit("no vn_names.yml found (/work/shared/data, ../shared/data or data/)")


class Picker:
    """Weighted choice over a {value: weight} mapping."""

    def __init__(self, weights: dict[str, float]) -> None:
        self.items = list(weights)
        self.cum = []
        total = 0.0
        for w in weights.values():
            total += float(w)
            self.cum.append(total)

    def __call__(self, rng: random.Random) -> str:
        return rng.choices(self.items, cum_weights=self.cum, k=1)[0]


def fold(text: str) -> str:
    """Vietnamese to an address local part: no diacritics, đ as d, letters and digits only."""
    plain = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in plain if c.isascii() and c.isalnum()).lower()


def mutf7(name: str) -> str:
    """IMAP's modified UTF-7 (RFC 3501 5.1.3), as Dovecot names Maildir++ folders on disk."""
    out, run_ = [], []

    def flush() -> None:
        if run_:
            packed = base64.b64encode("".join(run_).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + packed.replace("/", ",") + "-")
            run_.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run_.append(ch)
    flush()
    return "".join(out)


POSITIONS = ["Giám đốc", "Phó Giám đốc", "Chánh Văn phòng", "Trưởng phòng", "Phó Trưởng phòng",
             "Chuyên viên chính", "Chuyên viên", "Chuyên viên", "Chuyên viên", "Kế toán", "Văn thư",
             "Chủ tịch", "Phó Chủ tịch", "Công chức Văn phòng - Thống kê"]


def organisations() -> list[tuple[str, str, str, str]]:
    """(code, name, kind, DN) of the Hà Nam catalogue, parents before children."""
    data = yaml.safe_load((ROOT / "data/catalogues/hanam.yml").read_text(encoding="utf-8"))
    orgs = {o["code"]: o for o in data["organisations"]}

    def dn(code: str) -> str:
        parent = orgs[code].get("parent")
        return f"o={code}," + (dn(parent) if parent else f"ou=organisations,{BASE}")

    rows = [(c, o["name"], o.get("kind", "agency"), dn(c)) for c, o in orgs.items()]
    return sorted(rows, key=lambda r: r[3].count(","))


def people(count: int, seed: int) -> list[dict[str, str]]:
    """``count`` accounts with names drawn from vn_names.yml's frequencies, unique local parts (the
    folded full name, numbered on a clash) and an organisation of the catalogue each."""
    names = yaml.safe_load(names_file().read_text(encoding="utf-8"))
    rng = random.Random(seed)
    surname = Picker(names["surnames"])
    middle = {g: Picker(names["middle_names"][g]) for g in ("male", "female")}
    given = {g: Picker(names["given_names"][g]) for g in ("male", "female")}
    orgs = organisations()
    taken: set[str] = set()
    out = []
    for i in range(count):
        gender = "female" if rng.random() < 0.5 else "male"
        words = [surname(rng), middle[gender](rng), given[gender](rng)]
        local = base_local = fold("".join(words))
        n = 1
        while local in taken:
            n += 1
            local = f"{base_local}{n}"
        taken.add(local)
        org = orgs[i % len(orgs)]
        birth = dt.date(1965, 1, 1) + dt.timedelta(days=rng.randrange(14000))
        out.append({"cn": " ".join(words), "sn": words[0], "given": words[-1], "uid": local,
                    "org": org[3], "birth": birth.isoformat(), "position": rng.choice(POSITIONS)})
    return out


def ldif_line(attr: str, value: str) -> str:
    """One attribute as slapcat writes it: base64 for a password or a value that is not plain ASCII,
    folded at 76 characters."""
    raw = value.encode()
    if attr == "userPassword" or not value.isascii() or value[:1] in (" ", ":", "<") or value.endswith(" "):
        line = f"{attr}:: {base64.b64encode(raw).decode()}"
    else:
        line = f"{attr}: {value}"
    parts = [line[:76]] + [" " + line[i:i + 75] for i in range(76, len(line), 75)]
    return "\n".join(parts)


def ldif(accounts: list[dict[str, str]], seed: int) -> tuple[str, int]:
    """A slapcat -n 1 dump of a directory holding ``accounts``: the base, the containers, the
    catalogue's organisations and one entry per account (operational attributes included; the
    password hashes are random strings of a {CRYPT} SHA512-crypt hash's form and length)."""
    rng = random.Random(seed)
    crypt = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    entries: list[list[tuple[str, str]]] = [
        [("dn", BASE), ("objectClass", "dcObject"), ("objectClass", "organization"), ("dc", "hanam"),
         ("o", "Tỉnh Hà Nam")],
        *[[("dn", f"ou={ou},{BASE}"), ("objectClass", "organizationalUnit"), ("ou", ou)]
          for ou in ("services", "policies", "groups", "organisations")],
        *[[("dn", dn), ("objectClass", "organization"), ("objectClass", "congvuOrganisation"),
           ("o", code), ("congvuOrgKind", kind), ("congvuOrgCode", code), ("displayName", name),
           ("mail", f"{code}@{DOMAIN}")] for code, name, kind, dn in organisations()],
    ]
    for p in accounts:
        when = dt.datetime(2026, 1, 5) + dt.timedelta(seconds=rng.randrange(300 * 86400))
        stamp = when.strftime("%Y%m%d%H%M%SZ")
        hashed = "{CRYPT}$6$rounds=100000$" + "".join(rng.choices(crypt, k=16)) + "$" + "".join(
            rng.choices(crypt, k=86))
        entries.append([
            ("dn", f"uid={p['uid']},{p['org']}"), ("objectClass", "inetOrgPerson"),
            ("objectClass", "congvuMailAccount"), ("objectClass", "congvuLifecycle"), ("uid", p["uid"]),
            ("cn", p["cn"]), ("sn", p["sn"]), ("givenName", p["given"]), ("displayName", p["cn"]),
            ("mail", f"{p['uid']}@{DOMAIN}"), ("userPassword", hashed), ("congvuMailboxClass", "personal"),
            ("congvuMailQuota", "2000000000"), ("congvuAccountState", "active"),
            ("congvuOrganisationDN", p["org"]), ("congvuBirthDate", p["birth"]),
            ("congvuPosition", p["position"]), ("congvuMustChangePassword", "FALSE"),
            ("structuralObjectClass", "inetOrgPerson"),
            ("entryUUID", str(uuid.UUID(int=rng.getrandbits(128)))),
            ("creatorsName", PEERCRED), ("createTimestamp", stamp), ("pwdChangedTime", stamp),
            ("entryCSN", f"{when.strftime('%Y%m%d%H%M%S')}.{rng.randrange(10**6):06d}Z#000000#000#000000"),
            ("modifiersName", PEERCRED), ("modifyTimestamp", stamp)])
    text = "".join("\n".join(ldif_line(a, v) for a, v in e) + "\n\n" for e in entries)
    return text, len(entries)


def generate(mode: str, args, mailboxes: list[list[str]], senders: list[list[str]]) -> dict:
    params = {"mode": mode, "mailboxes": mailboxes, "senders": senders, "seed": args.seed,
              "messages": args.messages, "attachment_share": args.attachment_share,
              "attachment_min": 100_000, "attachment_max": 2_000_000, "domain": DOMAIN, "vmail": VMAIL,
              "positions": POSITIONS, "share": 0.10, "start": MAIL_START, "end": MAIL_END,
              "workers": os.cpu_count() or 2,
              "folder_cvd": "." + mutf7("Công văn đến"),
              "folder_cvd_2026": "." + mutf7("Công văn đến") + "." + mutf7("Năm 2026")}
    script = GENERATE.replace("__PARAMS__", repr(json.dumps(params)), 1)
    done = run(["podman", "exec", "-i", HOST, "python3", "-"], input=script)
    return json.loads(done.stdout.strip().splitlines()[-1])


def expected_bytes(args) -> int:
    """A rough size of the generated store, for the disk check: about 6 KB of headers and text per
    message, plus the attachments (log-uniform from 100 KB to 2 MB, base64 with line ends: x1.35)."""
    attach = (2_000_000 - 100_000) / math.log(2_000_000 / 100_000) * 1.35
    return int(args.mailboxes * args.messages * (6_000 + args.attachment_share * attach))


# --- measurements --------------------------------------------------------------------------------------

def survey(base: str, roots: list[str]) -> dict:
    _, out = timed(HOST, ["python3", "-c", SURVEY, base, *roots])
    return json.loads(out)


class Archives:
    """Archive names as the backup command makes them (<host>-<date and time>), never twice the same."""

    def __init__(self) -> None:
        self.last = ""

    def next(self) -> str:
        name = f"{HOST}-{dt.datetime.now().strftime('%Y-%m-%dT%H:%M:%S')}"
        while name == self.last:
            time.sleep(0.2)
            name = f"{HOST}-{dt.datetime.now().strftime('%Y-%m-%dT%H:%M:%S')}"
        self.last = name
        return name


def create(repo: str, archive: str) -> dict:
    seconds, out = timed(HOST, ["borg", "create", "--json", *CREATE_OPTIONS, f"::{archive}", *SOURCES],
                         env=REPOS[repo], ok=(0, 1))
    stats = json.loads(out)["archive"]["stats"]
    return {"seconds": round(seconds, 2), "archive": archive, "files": stats["nfiles"],
            "original_bytes": stats["original_size"], "compressed_bytes": stats["compressed_size"],
            "deduplicated_bytes": stats["deduplicated_size"]}


def repo_info(repo: str) -> dict:
    _, out = timed(HOST, ["borg", "info", "--json"], env=REPOS[repo])
    stats = json.loads(out)["cache"]["stats"]
    if repo == "local":
        _, du = timed(HOST, ["du", "-sb", LOCAL_REPO])
    else:
        _, du = timed(SERVER, ["du", "-sb", REMOTE_PATH])
    return {"archives_original_bytes": stats["total_size"], "archives_compressed_bytes": stats["total_csize"],
            "unique_compressed_bytes": stats["unique_csize"], "unique_chunks": stats["total_unique_chunks"],
            "on_disk_bytes": int(du.split()[0])}


def prune(repo: str) -> dict:
    seconds, _ = timed(HOST, ["borg", "prune", "--list", "--glob-archives", f"{HOST}-*",
                                "--keep-within", f"{KEEP_WITHIN_DAYS}d", "--keep-last", str(KEEP_LAST)],
                         env=REPOS[repo])
    _, listed = timed(HOST, ["borg", "list", "--short"], env=REPOS[repo])
    return {"seconds": round(seconds, 2), "archives_left": len(listed.split())}


def compact(repo: str) -> float:
    """Local: the backup command's own ``borg compact``. Remote: what congvu-backup-compact runs on the
    server, as congvu-borg (the host's key is append-only)."""
    if repo == "local":
        seconds, _ = timed(HOST, ["borg", "compact"], env=REPOS[repo])
    else:
        seconds, _ = timed(SERVER, ["runuser", "-u", BORG_USER, "--", "env", f"BORG_BASE_DIR={BORG_HOME}",
                                    "borg", "compact", REMOTE_PATH])
    return round(seconds, 2)


def restore(repo: str, archive: str, source: dict) -> dict:
    target = f"/var/tmp/congvu-bench-restore-{repo}"
    bash(HOST, f"rm -rf {target} && install -d -m 0700 {target}")
    seconds, _ = timed(HOST, ["borg", "extract", f"::{archive}"], env=REPOS[repo], workdir=target)
    got = survey(target, SOURCES)
    bash(HOST, f"rm -rf {target}")
    return {"seconds": round(seconds, 2), "files": got["files"], "bytes": got["bytes"],
            "matches": got == source}


def setup() -> None:
    log("starting the containers")
    run(["podman", "network", "create", NETWORK])
    for name in (HOST, SERVER):
        start(name)
    for name in (HOST, SERVER):
        wait_systemd(name)
    log("installing Borg (both containers at once)")
    jobs = {name: subprocess.Popen(["podman", "exec", "-i", name, "bash", "-s"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name in (HOST, SERVER)}
    packages = {HOST: "borgbackup openssh-client", SERVER: "borgbackup openssh-server"}
    for name, job in jobs.items():
        out, err = job.communicate(INSTALL.format(packages=packages[name]))
        if job.returncode:
            sys.exit(f"{name}: installing {packages[name]} failed\n{out[-1000:]}\n{err[-2000:]}")
    # roles/backup_server/tasks/main.yml: the account, its .ssh and the repositories' directory, sshd.
    bash(SERVER, SERVER_SETUP)
    # roles/backup/tasks/main.yml and remote.yml: the host's directories, its own key, its line in the
    # server's authorized_keys (forced borg serve --append-only of its repository), the pinned host key.
    bash(HOST, HOST_SETUP)
    address = json.loads(run(["podman", "inspect", SERVER]).stdout)[0]["NetworkSettings"]["Networks"][
        NETWORK]["IPAddress"]
    bash(HOST, f"echo '{address} {SERVER}' >> /etc/hosts")  # the network has no DNS
    public = " ".join(run(["podman", "exec", HOST, "cat", f"{SSH_KEY}.pub"]).stdout.split()[:2])
    line = (f'command="borg serve --append-only --restrict-to-repository {REMOTE_PATH}",restrict '
            f"{public} congvu-backup@{HOST}")
    bash(SERVER, f"set -e\necho {shlex.quote(line)} > {BORG_HOME}/.ssh/authorized_keys\n"
                 f"chown {BORG_USER}:{BORG_USER} {BORG_HOME}/.ssh/authorized_keys\n"
                 f"chmod 0600 {BORG_HOME}/.ssh/authorized_keys\n")
    host_key = " ".join(run(["podman", "exec", SERVER, "cat", "/etc/ssh/ssh_host_ed25519_key.pub"])
                        .stdout.split()[:2])
    passphrase = secrets.token_urlsafe(32)
    bash(HOST, f"set -e\necho {shlex.quote(f'{SERVER} {host_key}')} > {KNOWN_HOSTS}\n"
               f"chmod 0644 {KNOWN_HOSTS}\numask 077\necho {shlex.quote(passphrase)} > {PASSFILE}\n")
    for repo in REPOS:
        timed(HOST, ["borg", "init", "--encryption=repokey-blake2"], env=REPOS[repo])
    # The key must do nothing but Borg on its own repository (as tests/layouts checks).
    probe = subprocess.run(["podman", "exec", "-e", f"BORG_RSH={REPOS['remote']['BORG_RSH']}", HOST, "bash",
                            "-c", f"$BORG_RSH {BORG_USER}@{SERVER} id </dev/null"],
                           capture_output=True, text=True, timeout=120, check=False)
    if "uid=" in probe.stdout:
        sys.exit("the host's key runs a shell on the backup server: the forced command is not in place")


def machine() -> dict:
    others = [n for n in run(["podman", "ps", "--format", "{{.Names}}"]).stdout.split()
              if n not in (HOST, SERVER)]
    return {"load": [round(x, 2) for x in os.getloadavg()], "other_containers": others}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mailboxes", type=int, default=2000)
    parser.add_argument("--messages", type=float, default=20, help="mean messages per mailbox")
    parser.add_argument("--accounts", type=int, default=20000, help="accounts in the directory dump")
    parser.add_argument("--attachment-share", type=float, default=0.05,
                        help="share of messages with an attachment (100 KB to 2 MB, log-uniform)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--keep", action="store_true", help="leave the containers and network in place")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    if args.accounts < args.mailboxes:
        parser.error("--accounts must be at least --mailboxes (every mailbox is an account)")
    if run(["podman", "image", "exists", IMAGE], check=False).returncode:
        sys.exit(f"image {IMAGE} missing: run 'make image'")
    graphroot = run(["podman", "info", "--format", "{{.Store.GraphRoot}}"]).stdout.strip()
    free = shutil.disk_usage(graphroot).free
    need = int(expected_bytes(args) * 4.5) + 2 * 10**9  # source, two repositories, one restore, margin
    if free < need:
        sys.exit(f"{free / 1e9:.1f} GB free under {graphroot}, about {need / 1e9:.1f} GB needed: "
                 "use fewer --mailboxes or --messages")

    began = time.monotonic()
    result: dict = {"started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                    "machine": {"cpus": os.cpu_count(), "before": machine(),
                                "free_disk_bytes": free}}
    accounts = people(args.accounts, args.seed)
    text, entries = ldif(accounts, args.seed)
    mailboxes = [[p["uid"], p["cn"]] for p in accounts[:args.mailboxes]]
    senders = [[p["cn"], f"{p['uid']}@{DOMAIN}"] for p in accounts[:: max(1, len(accounts) // 400)]]
    cleanup()
    try:
        setup()
        log(f"generating {args.mailboxes} mailboxes (mean {args.messages:g} messages) and {entries} entries")
        t0 = time.monotonic()
        run(["podman", "exec", "-i", HOST, "bash", "-c",
             f"umask 077 && cat > {STAGING}/directory/data.ldif"], input=text)
        data = generate("full", args, mailboxes, senders)
        data["generate_seconds"] = round(time.monotonic() - t0, 1)
        data["directory_entries"] = entries
        data["ldif_bytes"] = len(text.encode())
        source = survey("/", SOURCES)
        data.update(source_files=source["files"], source_bytes=source["bytes"])
        result["data"] = data
        log(f"data: {source['files']} files, {source['bytes'] / 1e9:.2f} GB in {data['generate_seconds']} s")

        archives = Archives()
        steps: dict[str, dict[str, dict]] = {repo: {} for repo in REPOS}
        archive = archives.next()  # one name per step, the same in both repositories
        for repo in REPOS:
            log(f"{repo}: first archive")
            steps[repo]["full"] = create(repo, archive)
        log("adding one message to 10% of the mailboxes")
        result["increment"] = generate("increment", args, mailboxes, senders)
        source = survey("/", SOURCES)
        archive = archives.next()
        for repo in REPOS:
            log(f"{repo}: incremental archive")
            steps[repo]["incremental"] = create(repo, archive)
        archive = archives.next()
        for repo in REPOS:
            log(f"{repo}: unchanged archive")
            steps[repo]["unchanged"] = create(repo, archive)
        for repo in REPOS:
            steps[repo]["repository"] = repo_info(repo)
            log(f"{repo}: prune and compact")
            steps[repo]["prune"] = prune(repo)
            steps[repo]["compact_seconds"] = compact(repo)
        for repo in REPOS:
            log(f"{repo}: full restore")
            steps[repo]["restore"] = restore(repo, archive, source)
        result["source_after_increment"] = source
        result["repositories"] = steps
    finally:
        if args.keep:
            log(f"kept {HOST}, {SERVER} and the network {NETWORK}")
        else:
            cleanup()
    result["machine"]["after"] = machine()
    result["wall_seconds"] = round(time.monotonic() - began, 1)
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
    else:
        print_table(result)
    return 0 if all(s["restore"]["matches"] for s in result["repositories"].values()) else 1


def print_table(result: dict) -> None:
    d, src, inc = result["data"], result["source_after_increment"], result["increment"]
    print(f"\ndata: {d['mailboxes']} mailboxes, {d['messages']} messages ({d['attachments']} with an "
          f"attachment: {d['attachment_bytes'] / 1e9:.2f} GB before base64), {d['directory_entries']} "
          f"directory entries ({d['ldif_bytes'] / 1e6:.1f} MB of LDIF): {d['source_files']} files, "
          f"{d['source_bytes'] / 1e9:.2f} GB, generated in {d['generate_seconds']} s")
    print(f"increment: {inc['messages']} new messages, {inc['bytes'] / 1e6:.1f} MB "
          f"({inc['attachments']} with an attachment)")
    repos = [result["repositories"][r] for r in REPOS]

    def cells(text) -> tuple[str, ...]:
        return tuple(text(r) for r in repos)

    def stored(step: dict, unit: float, name: str) -> str:
        return f"{step['deduplicated_bytes'] / unit:.2f} {name} stored"

    def rate(step: dict) -> str:
        return f"{step['original_bytes'] / step['seconds'] / 1e6:.1f} MB/s"

    rows = [("first archive (full)",
             *cells(lambda r: f"{r['full']['seconds']:6.1f} s  {rate(r['full'])}, "
                              + stored(r["full"], 1e9, "GB"))),
            ("incremental archive", *cells(lambda r: f"{r['incremental']['seconds']:6.1f} s  "
                                         + stored(r["incremental"], 1e6, "MB"))),
            ("unchanged archive", *cells(lambda r: f"{r['unchanged']['seconds']:6.1f} s  "
                                       + stored(r["unchanged"], 1e6, "MB"))),
            (f"prune (--keep-within {KEEP_WITHIN_DAYS}d --keep-last {KEEP_LAST})",
             *cells(lambda r: f"{r['prune']['seconds']:6.1f} s  "
                              f"{r['prune']['archives_left']} archives left")),
            ("compact (remote: on the server)", *cells(lambda r: f"{r['compact_seconds']:6.1f} s")),
            ("full restore (borg extract)",
             *cells(lambda r: f"{r['restore']['seconds']:6.1f} s  "
                              f"{src['bytes'] / r['restore']['seconds'] / 1e6:.1f} MB/s, "
                              + ("matches" if r["restore"]["matches"] else "DIFFERS"))),
            ("repository (deduplicated, compressed)",
             *cells(lambda r: f"{r['repository']['unique_compressed_bytes'] / 1e9:6.2f} GB  "
                              f"{r['repository']['on_disk_bytes'] / 1e9:.2f} GB on disk"))]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'step':<{width}}  {'local repository':<36}  remote repository (SSH)")
    for label, local, remote in rows:
        print(f"{label:<{width}}  {local:<36}  {remote}")
    m = result["machine"]
    print(f"\n{m['cpus']} CPUs; load average before {m['before']['load']}, after {m['after']['load']}; "
          f"other containers: {', '.join(m['before']['other_containers']) or 'none'}; "
          f"wall time {result['wall_seconds']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
