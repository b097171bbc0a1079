#!/usr/bin/env python3
"""Benchmark of the mail path: SMTP (submission and port 25) -> Postfix -> Rspamd milter (spam, ClamAV,
attachment rules, DKIM) -> delivery into Dovecot mailboxes, against the same stack with the milter off.

    source scripts/env.sh && python bench/mailpath_bench.py [--messages 2000] [--connections 8]
        [--mailboxes 300] [--rounds 1] [--transport current|lmtp] [--resolver local|container]
        [--keep] [--reuse]

It starts a throwaway podman container ``congvu-mailpath-bench`` from the project's Debian 12 image
on its own network (198.18.77.0/24: not a private range, so Rspamd sees the host as the Internet)
and converges playbooks/site.yml on it (all-in-one: every group but the webmail, under the Hà Nam
policy, ClamAV with its local test signatures), loads generated mailboxes into the directory
(ldapadd over ldapi), then, per round, sends the same load with the milter off and on (Postfix's
smtpd_milters emptied and restored, then reloaded): 5 KB messages of Vietnamese text, one in five
with a small attachment, over several parallel SMTP sessions from the host, half from the
province's people through submission (587, STARTTLS, AUTH; DKIM-signed by Rspamd) and half from
other provinces' MXes on port 25. A run ends when Postfix's queue is empty; every message is then
looked for in the mailboxes by its bench header. One table is printed; the container and its
network are removed unless ``--keep``. ``--reuse`` skips the converge when the container is already
there (iterating with ``--keep``).
Figures go to docs/filtering.md (section Performance).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import smtplib
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from congvu.names import generate_people  # noqa: E402

CONTAINER = "congvu-mailpath-bench"
# Its own podman network in 198.18.0.0/15 (RFC 2544, for benchmarks): outside every private range, so
# Rspamd (whose local_addrs include 10/8, 172.16/12, 192.168/16) sees the bench client as the Internet.
NETWORK = "congvu-mailpath-bench"
SUBNET = "198.18.77.0/24"
CLIENT = "198.18.77.1"  # the host on that network
IMAGE = "localhost/congvu-debian12:latest"
HOST = "mail.hanam.gov.vn"
DOMAIN = "hanam.gov.vn"
BASE = "dc=hanam,dc=gov,dc=vn"
ORG_DN = f"o=bench,ou=organisations,{BASE}"
BENCH_HEADER = "X-Congvu-Bench"
LMTP = "lmtp:unix:private/dovecot-lmtp"  # the postfix role's virtual_transport (postfix_dovecot_lmtp_socket)
OTHER_DOMAINS = ["bacninh.gov.vn", "namdinh.gov.vn", "ninhbinh.gov.vn", "hungyen.gov.vn", "thaibinh.gov.vn"]

# The data centre's resolver stand-in (as molecule/rspamd/prepare.yml): answers at once, NXDOMAIN for
# every name it does not hold, so no lookup waits on the unreachable public DNS. It knows the other
# provinces' zones as a government resolver would: their MX is the bench client, SPF allows it.
RESOLVER = """
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends dnsmasq >/dev/null
cat > /etc/dnsmasq.d/congvu-bench.conf <<EOF
listen-address=127.0.0.1
bind-interfaces
no-resolv
local=/#/
host-record=mx.bench.gov.vn,{client}
{zones}
EOF
systemctl restart dnsmasq
"""

SENTENCES = [
    "Thực hiện Kế hoạch số 125/KH-UBND ngày 15 tháng 3 năm 2026 của Ủy ban nhân dân tỉnh Hà Nam về "
    "chuyển đổi số trong cơ quan nhà nước, Sở Thông tin và Truyền thông đề nghị các cơ quan, đơn vị "
    "báo cáo kết quả triển khai trước ngày 30 hằng tháng.",
    "Các đơn vị rà soát danh sách cán bộ, công chức chưa được cấp hộp thư công vụ và gửi về Văn phòng "
    "để tổng hợp, trình lãnh đạo xem xét.",
    "Đề nghị đồng chí Chánh Văn phòng chỉ đạo bộ phận văn thư cập nhật sổ theo dõi văn bản đến, văn "
    "bản đi trên hệ thống quản lý văn bản và điều hành.",
    "Trong quá trình thực hiện, nếu có khó khăn, vướng mắc, đề nghị phản ánh kịp thời về Phòng Công "
    "nghệ thông tin (số điện thoại 0226.3852.xxx) để được hướng dẫn.",
    "Ủy ban nhân dân huyện Kim Bảng đã tổ chức hội nghị tập huấn sử dụng thư điện tử công vụ cho "
    "120 cán bộ, công chức cấp xã; kết quả kiểm tra cuối khóa đạt yêu cầu.",
    "Kinh phí thực hiện được bố trí từ nguồn ngân sách nhà nước năm 2026 theo phân cấp hiện hành và "
    "các nguồn kinh phí hợp pháp khác.",
    "Giao Sở Tài chính chủ trì, phối hợp với Sở Kế hoạch và Đầu tư thẩm định dự toán, tham mưu Ủy ban "
    "nhân dân tỉnh bố trí kinh phí đúng quy định.",
    "Văn phòng Ủy ban nhân dân tỉnh thông báo lịch họp giao ban tuần: 8 giờ 00 sáng thứ Hai, tại phòng "
    "họp số 2, tầng 3, trụ sở Ủy ban nhân dân tỉnh.",
    "Đề nghị các xã, phường, thị trấn cập nhật số liệu dân số, lao động, việc làm quý III vào phần mềm "
    "dùng chung của tỉnh trước ngày 10 tháng 10.",
    "Trân trọng cảm ơn sự phối hợp của quý cơ quan, đơn vị.",
]
SUBJECTS = [
    "Báo cáo kết quả chuyển đổi số tháng {n}", "V/v rà soát danh sách hộp thư công vụ đợt {n}",
    "Giấy mời họp giao ban tuần {n}", "Kế hoạch tập huấn thư điện tử công vụ năm 2026 (lần {n})",
    "Đề nghị cập nhật số liệu quý III - phụ lục {n}", "Thông báo lịch trực cơ quan tuần {n}",
]
ATTACHMENTS = [("bao-cao-thang.pdf", "application", "pdf"), ("danh-sach.xlsx", "application",
               "vnd.openxmlformats-officedocument.spreadsheetml.sheet"), ("ke-hoach.docx", "application",
               "vnd.openxmlformats-officedocument.wordprocessingml.document"), ("so-lieu.csv", "text", "csv")]


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, **kw)


def cexec(script: str, check: bool = True) -> str:
    """Run a shell script in the container; return its stdout."""
    done = subprocess.run(["podman", "exec", "-i", CONTAINER, "bash", "-s"], input=script, text=True,
                          capture_output=True, check=False)
    if check and done.returncode:
        sys.exit(f"in {CONTAINER}: {script.strip()[:200]}\nfailed: {done.stderr[-2000:]}")
    return done.stdout


def ascii_local(name: str, taken: set[str]) -> str:
    """Vietnamese full name -> an address local part (lower-case ASCII, unique)."""
    import unicodedata

    flat = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    base = "".join(c for c in flat if c.isascii() and c.isalnum()).lower()
    local, n = base, 1
    while local in taken:
        n += 1
        local = f"{base}{n}"
    taken.add(local)
    return local


def mailboxes(count: int, seed: int) -> list[tuple[str, str]]:
    people = generate_people(count, ["bench"], seed=seed, province="hanam")
    taken: set[str] = set()
    return [(ascii_local(p.full_name, taken), p.full_name) for p in people]


def accounts_ldif(boxes: list[tuple[str, str]], password_hash: dict[str, str]) -> str:
    out = [f"dn: {ORG_DN}\nobjectClass: organization\nobjectClass: congvuOrganisation\no: bench\n"
           f"displayName: Đơn vị thử tải\n"]
    for local, name in boxes:
        out.append(f"dn: uid={local},{ORG_DN}\nobjectClass: inetOrgPerson\nobjectClass: congvuMailAccount\n"
                   f"uid: {local}\ncn:: {_b64(name)}\nsn:: {_b64(name.split()[0])}\n"
                   f"mail: {local}@{DOMAIN}\ncongvuMailboxClass: personal\ncongvuAccountState: active\n"
                   f"congvuMustChangePassword: FALSE\n"
                   + (f"userPassword: {{CRYPT}}{password_hash[local]}\n" if local in password_hash else ""))
    return "\n".join(out)


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def make_message(rng: random.Random, tag: str, seq: int, sender: str, rcpt: tuple[str, str]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = formataddr((rcpt[1], f"{rcpt[0]}@{DOMAIN}"))
    msg["Subject"] = rng.choice(SUBJECTS).format(n=rng.randint(1, 52))
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[1])
    msg[BENCH_HEADER] = f"{tag} {seq}"
    attach = rng.random() < 0.2
    # ~5 KB on the wire either way: quoted-printable about doubles Vietnamese text, base64 adds a third.
    target = 1500 if attach else 2300
    lines = ["Kính gửi: " + rcpt[1] + ",", ""]
    while sum(len(s.encode()) for s in lines) < target:
        lines.append(rng.choice(SENTENCES))
    lines += ["", "Trân trọng,", "Văn phòng Sở Thông tin và Truyền thông tỉnh Hà Nam"]
    msg.set_content("\n".join(lines), charset="utf-8", cte="quoted-printable")
    if attach:
        fname, main, sub = rng.choice(ATTACHMENTS)
        if sub == "csv":
            data = "\n".join(f"{i},Xã {i},{rng.randint(1000, 9000)}" for i in range(40)).encode()
        else:
            data = (b"%PDF-1.4\n" if sub == "pdf" else b"PK\x03\x04") + rng.randbytes(1100)
        msg.add_attachment(data, maintype=main, subtype=sub, filename=fname)
    return msg


class Load:
    """Sends messages over parallel SMTP sessions; counts what was accepted and refused (with reasons).

    Work items are sessions: ``(login, [(sender, rcpt, data), ...])``. A session with a login goes to
    submission (587, STARTTLS, AUTH as that person, who is also the sender: Postfix refuses any other
    envelope sender); one without goes to port 25 as an outside MX would.
    """

    def __init__(self, ip: str, sessions: list[tuple[str | None, list[tuple[str, str, bytes]]]],
                 connections: int, logins: dict[str, str]):
        self.ip, self.connections, self.logins = ip, connections, logins
        self.queue = list(reversed(sessions))
        self.lock = threading.Lock()
        self.accepted = 0
        self.refused: list[str] = []
        self.tls = ssl.create_default_context()
        self.tls.check_hostname = False
        self.tls.verify_mode = ssl.CERT_NONE  # the container's internal CA; the bench measures, not trusts

    def _next(self):
        with self.lock:
            return self.queue.pop() if self.queue else None

    def _connect(self, login: str | None) -> smtplib.SMTP:
        if login:
            smtp = smtplib.SMTP(self.ip, 587, local_hostname="pc.hanam.gov.vn", timeout=120)
            smtp.starttls(context=self.tls)
            smtp.login(login, self.logins[login])
        else:
            smtp = smtplib.SMTP(self.ip, 25, local_hostname="mx.bench.gov.vn", timeout=120)
            smtp.starttls(context=self.tls)  # opportunistic TLS, as MXes between provinces do
        return smtp

    def _refuse(self, rcpt: str, reason: object) -> None:
        with self.lock:
            self.refused.append(f"{rcpt}: {reason}")

    def _worker(self) -> None:
        while (item := self._next()) is not None:
            login, batch = item
            smtp = None
            for sender, rcpt, data in batch:
                for attempt in range(3):
                    try:
                        if smtp is None:
                            smtp = self._connect(login)
                        smtp.sendmail(sender, [rcpt], data)
                        with self.lock:
                            self.accepted += 1
                        break
                    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError,
                            smtplib.SMTPSenderRefused) as err:
                        self._refuse(rcpt, err)
                        with contextlib.suppress(smtplib.SMTPException, OSError):
                            smtp.rset()
                        break
                    except (smtplib.SMTPException, ConnectionError, OSError) as err:
                        smtp = None
                        if attempt == 2:
                            self._refuse(rcpt, f"connection: {err}")
            if smtp is not None:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    smtp.quit()

    def run(self) -> None:
        threads = [threading.Thread(target=self._worker) for _ in range(self.connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


QUEUE_AND_BOXES = """
q=$(find /var/spool/postfix/incoming /var/spool/postfix/active /var/spool/postfix/deferred \
  /var/spool/postfix/maildrop /var/spool/postfix/hold -type f | wc -l)
echo "$q"
"""


def queue_size() -> int:
    return int(cexec(QUEUE_AND_BOXES).strip() or 0)


def count_in_boxes(tag: str) -> tuple[int, int, int]:
    """Messages of this run in the mailboxes, those with Rspamd's headers (inbound), those DKIM-signed."""
    out = cexec(f"""
cd /var/vmail
grep -rlF '{BENCH_HEADER}: {tag} ' . > /tmp/bench-{tag} || true
wc -l < /tmp/bench-{tag}
xargs -r -a /tmp/bench-{tag} -d '\\n' grep -l '^X-Spamd-Result:' | wc -l
xargs -r -a /tmp/bench-{tag} -d '\\n' grep -l '^DKIM-Signature:' | wc -l
""")
    total, scanned, signed = (int(x) for x in out.split())
    return total, scanned, signed


def clamav_scans() -> int:
    """Rspamd caches each ClamAV verdict in Redis under rs_clamav_<digest>: one key per message scanned."""
    return int(cexec("redis-cli --scan --pattern 'rs_clamav_*' | wc -l").strip() or 0)


def cpu_seconds() -> dict[str, float]:
    """CPU seconds so far: the whole container (its cgroup on the host, short-lived processes included)
    and the filter's long-lived daemons (Rspamd, clamd, Redis: ps cputimes)."""
    cid = sh(["podman", "inspect", "-f", "{{.Id}}", CONTAINER], capture_output=True).stdout.strip()
    out: dict[str, float] = {}
    usage = Path(f"/sys/fs/cgroup/cpuacct/libpod_parent/libpod-{cid}/cpuacct.usage")
    if usage.exists():
        out["container"] = int(usage.read_text()) / 1e9
    for line in cexec("ps -eo comm=,cputimes=").splitlines():
        comm, secs = line.split()
        if comm in ("rspamd", "clamd", "redis-server"):
            out["filter"] = out.get("filter", 0.0) + int(secs)
    return out


def set_milter(on: bool, saved: dict[str, str]) -> None:
    args = " ".join(f"'{k}={v}'" for k, v in saved.items()) if on else "'smtpd_milters=' 'non_smtpd_milters='"
    cexec(f"postconf -e {args} && postfix check && postfix reload >/dev/null 2>&1")


def run_round(label: str, ip: str, boxes: list[tuple[str, str]], logins: dict[str, str], outside: list[str],
              count: int, connections: int, seed: int, timeout: float) -> dict:
    tag = f"{label}-{uuid.uuid4().hex[:8]}"
    # Seeded by the run's tag: bodies and attachments differ from any earlier run, so Rspamd's ClamAV
    # verdict cache (Redis, keyed by content) never answers for ClamAV.
    rng = random.Random(f"{seed}-{tag}")
    # Half of the messages from the province's people through submission (clients sending 1-8 messages
    # per session), half from other provinces' MXes over port 25 (25 messages per session).
    outbound: dict[str, list[tuple[str, str, bytes]]] = {}
    inbound: list[tuple[str, str, bytes]] = []
    for seq in range(count):
        rcpt = rng.choice(boxes)
        if rng.random() < 0.5:
            sender = rng.choice(list(logins))
            outbound.setdefault(sender, []).append(
                (sender, f"{rcpt[0]}@{DOMAIN}", make_message(rng, tag, seq, sender, rcpt).as_bytes()))
        else:
            sender = rng.choice(outside)
            inbound.append(
                (sender, f"{rcpt[0]}@{DOMAIN}", make_message(rng, tag, seq, sender, rcpt).as_bytes()))
    sessions: list[tuple[str | None, list[tuple[str, str, bytes]]]] = []
    for login, mine in outbound.items():
        while mine:
            n = rng.randint(1, 8)
            sessions.append((login, mine[:n]))
            mine = mine[n:]
    sessions += [(None, inbound[i:i + 25]) for i in range(0, len(inbound), 25)]
    rng.shuffle(sessions)
    msgs = [m for _, batch in sessions for m in batch]
    size = sum(len(m[2]) for m in msgs) / count
    load = Load(ip, sessions, connections, logins)
    av_before = clamav_scans()
    cpu_before = cpu_seconds()
    load_before = os.getloadavg()[0]
    start = time.monotonic()
    load.run()
    accepted_at = time.monotonic() - start
    while True:
        q = queue_size()
        if q == 0:
            break
        if time.monotonic() - start > timeout:
            break
        time.sleep(0.2)
    drained_at = time.monotonic() - start
    delivered, scanned, signed = count_in_boxes(tag)
    av = clamav_scans() - av_before
    cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_seconds().items()}
    return {"cpu": cpu, "av": av, "inbound": len(inbound), "label": label, "tag": tag, "sent": count,
            "size": size, "accepted": load.accepted, "refused": load.refused, "left_in_queue": q,
            "delivered": delivered, "scanned": scanned,
            "signed": signed, "accept_s": accepted_at, "drain_s": drained_at,
            "rate": delivered / drained_at, "load": (load_before, os.getloadavg()[0])}


def converge(tmp: Path, resolver: str) -> None:
    host_vars = {
        "ansible_host": CONTAINER,
        "congvu_province": "hanam",
        "congvu_environment": "staging",
        "common_tls_mode": "internal_ca",
        "common_firewall_admin_networks": [],
        # ClamAV scans with the role's local test signature DB (no download from the container).
        "rspamd_clamav_test_signatures": True,
        # No official signatures offline: accept and warn (docs/security.md), as staging does.
        "rspamd_clamav_require_signatures": False,
        "rspamd_clamav_unusable_action": "warn",
        "rspamd_dns_records_fetch_dir": str(tmp / "dns-records"),
    }
    if resolver == "local":
        host_vars["rspamd_dns_nameservers"] = ["127.0.0.1"]
    groups = ["ldap_servers", "mail_servers", "filter_servers", "webmail_servers"]
    inventory = {"congvu": {
        "vars": {"ansible_connection": "containers.podman.podman",
                 "ansible_python_interpreter": "/usr/bin/python3"},
        "hosts": {HOST: host_vars},
        "children": {g: {"hosts": {HOST: None}} for g in groups}}}
    (tmp / "hosts.yml").write_text(yaml.safe_dump(inventory, allow_unicode=True))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    log = tmp / "converge.log"
    with log.open("w") as out:
        done = subprocess.run(["ansible-playbook", "-i", str(tmp / "hosts.yml"), "playbooks/site.yml",
                               "-e", "congvu_policy_quiet=true", "--skip-tags", "webmail"], cwd=ROOT, env=env,
                              stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        sys.exit(f"converge failed:\n{log.read_text()[-4000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="messages per run")
    parser.add_argument("--connections", type=int, default=8, help="parallel SMTP sessions")
    parser.add_argument("--mailboxes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=1, help="unfiltered + filtered pairs (ABBA order)")
    parser.add_argument("--warmup", type=int, default=100, help="messages sent (filtered) before measuring")
    parser.add_argument("--transport", choices=["current", "lmtp"], default="current",
                        help="keep the role's virtual_transport, or set Dovecot LMTP for comparison")
    parser.add_argument("--resolver", choices=["local", "container"], default="local",
                        help="local: dnsmasq answering at once (a data centre resolver); container: "
                             "the container's resolv.conf")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the queue to drain")
    parser.add_argument("--keep", action="store_true", help="leave the container running")
    parser.add_argument("--reuse", action="store_true", help="use a kept container as it is (no converge)")
    args = parser.parse_args()

    t_all = time.monotonic()
    results: list[dict] = []
    info: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="congvu-mailpath-") as tmpdir:
        tmp = Path(tmpdir)
        exists = subprocess.run(["podman", "container", "exists", CONTAINER], check=False).returncode == 0
        try:
            if not (args.reuse and exists):
                subprocess.run(["podman", "rm", "-f", CONTAINER], capture_output=True, check=False)
                if subprocess.run(["podman", "network", "exists", NETWORK], check=False).returncode:
                    sh(["podman", "network", "create", "--subnet", SUBNET, NETWORK],
                       stdout=subprocess.DEVNULL)
                cache = Path(os.environ.get("CONGVU_CACHE", ROOT / ".cache")) / "apt-archives"
                (cache / "partial").mkdir(parents=True, exist_ok=True)
                sh(["podman", "run", "-d", "--name", CONTAINER, "--hostname", HOST.split(".")[0],
                    "--network", NETWORK,
                    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--systemd", "always",
                    "-v", f"{cache}:/var/cache/apt/archives", IMAGE, "/sbin/init"], stdout=subprocess.DEVNULL)
                for _ in range(60):
                    state = subprocess.run(["podman", "exec", CONTAINER, "systemctl", "is-system-running"],
                                           capture_output=True, text=True, check=False).stdout.strip()
                    if state in ("running", "degraded"):
                        break
                    time.sleep(1)
                t0 = time.monotonic()
                if args.resolver == "local":
                    zones = "\n".join(f"mx-host={d},mx.bench.gov.vn,10\naddress=/{d}/{CLIENT}\n"
                                      f'txt-record={d},"v=spf1 ip4:{SUBNET} -all"' for d in OTHER_DOMAINS)
                    cexec(RESOLVER.format(client=CLIENT, zones=zones))
                converge(tmp, args.resolver)
                info["converge"] = f"{time.monotonic() - t0:.0f} s"
                print(f"converged in {info['converge']}", file=sys.stderr)
            boxes = mailboxes(args.mailboxes, seed=5)
            # The first 60 people also send, through submission with their password.
            password = "Bench#Th0ngtin-" + uuid.uuid4().hex[:8]
            logins = {f"{local}@{DOMAIN}": password for local, _ in boxes[:60]}
            hashed = sh(["openssl", "passwd", "-6", "-stdin"], input=password,
                        capture_output=True).stdout.strip()
            if "dn:" not in cexec(f"ldapsearch -Q -LLL -Y EXTERNAL -H ldapi:/// -b {ORG_DN} -s base dn "
                                  "2>/dev/null || true"):
                sh(["podman", "exec", "-i", CONTAINER, "ldapadd", "-Q", "-Y", "EXTERNAL", "-H", "ldapi:///"],
                   input=accounts_ldif(boxes, {lp: hashed for lp, _ in boxes[:60]}),
                   stdout=subprocess.DEVNULL)
            else:  # --reuse: this run's password
                sh(["podman", "exec", "-i", CONTAINER, "ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", "ldapi:///"],
                   input="".join(f"dn: uid={lp},{ORG_DN}\nchangetype: modify\nreplace: userPassword\n"
                                 f"userPassword: {{CRYPT}}{hashed}\n\n" for lp, _ in boxes[:60]),
                   stdout=subprocess.DEVNULL)
            fmt = "{{(index .NetworkSettings.Networks \"" + NETWORK + "\").IPAddress}}"
            ip = sh(["podman", "inspect", "-f", fmt, CONTAINER], capture_output=True).stdout.strip()
            saved = dict(line.split(" = ", 1) for line in
                         cexec("postconf smtpd_milters non_smtpd_milters virtual_transport").splitlines())
            transport = saved.pop("virtual_transport")
            if args.transport == "lmtp" and transport != LMTP:
                cexec(f"postconf -e 'virtual_transport={LMTP}' && postfix reload >/dev/null 2>&1")
                transport = f"{LMTP} (set by --transport lmtp; role: {transport})"
            info["transport"] = transport
            info["milter"] = saved["smtpd_milters"]
            if not saved["smtpd_milters"]:
                sys.exit("the converged Postfix has no milter: nothing to compare")
            info["rspamd"] = cexec(
                "echo \"$(pgrep -fc 'rspamd: normal') normal, "
                "$(pgrep -fc 'rspamd: rspamd_proxy') proxy (milter) workers;"
                " $(rspamd --version | head -1)\"; nproc").replace("\n", "; ").strip("; ")
            # Half of the mail from the province's people (submission; Rspamd signs it with DKIM), half
            # from other provinces' servers (port 25, inbound checks).
            outside = [f"{lp}@{d}" for (lp, _), d in zip(boxes[60:120], OTHER_DOMAINS * 12, strict=True)]
            if args.warmup:
                set_milter(True, saved)
                results.append(run_round("warmup", ip, boxes, logins, outside, args.warmup,
                                         args.connections, 0, args.timeout))
            order = []
            for r in range(args.rounds):
                order += [False, True] if r % 2 == 0 else [True, False]
            for n, on in enumerate(order, 1):
                set_milter(on, saved)
                time.sleep(1)
                label = "filtered" if on else "unfiltered"
                res = run_round(label, ip, boxes, logins, outside, args.messages, args.connections, n,
                                args.timeout)
                results.append(res)
                print(f"{label}: {res['delivered']}/{res['sent']} in {res['drain_s']:.1f} s "
                      f"({res['rate']:.1f} msg/s)", file=sys.stderr)
            set_milter(True, saved)
            info["deferred reasons"] = cexec("postqueue -p | tail -5", check=False).strip()
        finally:
            if not args.keep:
                subprocess.run(["podman", "rm", "-f", CONTAINER], capture_output=True, check=False)
                subprocess.run(["podman", "network", "rm", NETWORK], capture_output=True, check=False)

    print(f"\nmail path bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{args.messages} messages x {args.connections} SMTP sessions -> {args.mailboxes} mailboxes")
    for k, v in info.items():
        print(f"  {k}: {v}")
    head = (f"{'run':<11} {'sent':>5} {'MX':>4} {'avg B':>6} {'accepted':>8} {'refused':>7} "
            f"{'in boxes':>8} {'lost':>4} {'ClamAV':>6} {'hdr':>4} {'DKIM':>5} {'SMTP s':>7} {'drain s':>7} "
            f"{'msg/s':>6} {'CPU ms/msg':>10} {'filter CPU s':>12}  load 1m")
    print(head)
    for r in results:
        lost = r["sent"] - r["delivered"] - len(r["refused"])
        print(f"{r['label']:<11} {r['sent']:>5} {r['inbound']:>4} {r['size']:>6.0f} {r['accepted']:>8} "
              f"{len(r['refused']):>7} {r['delivered']:>8} {lost:>4} {r['av']:>6} {r['scanned']:>4} "
              f"{r['signed']:>5} {r['accept_s']:>7.1f} {r['drain_s']:>7.1f} {r['rate']:>6.1f} "
              f"{1000 * r['cpu'].get('container', 0) / r['sent']:>10.0f} "
              f"{r['cpu'].get('filter', 0):>12.0f}  {r['load'][0]:.1f} -> {r['load'][1]:.1f}")
    measured = [r for r in results if r["label"] != "warmup"]
    on = sum(r["delivered"] for r in measured if r["label"] == "filtered") / max(
        sum(r["drain_s"] for r in measured if r["label"] == "filtered"), 1e-9)
    off = sum(r["delivered"] for r in measured if r["label"] == "unfiltered") / max(
        sum(r["drain_s"] for r in measured if r["label"] == "unfiltered"), 1e-9)
    lost = sum(r["sent"] - r["delivered"] - len(r["refused"]) for r in measured)
    print(f"filtered / unfiltered throughput: {on:.1f} / {off:.1f} msg/s = {100 * on / off:.0f} % "
          f"(target >= 60 %); lost: {lost}; wall {time.monotonic() - t_all:.0f} s; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for r in results:
        for reason in r["refused"][:5]:
            print(f"  refused ({r['label']}): {reason}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
