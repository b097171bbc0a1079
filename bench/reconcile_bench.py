#!/usr/bin/env python3
"""Benchmark of congvu_reconcile against a real slapd: 20,000 people, first apply, unchanged re-apply,
and a naive Ansible loop of community.general.ldap_entry on a sample, extrapolated.

    source scripts/env.sh && python bench/reconcile_bench.py [--people 20000] [--sample 200]
        [--modes txn,async] [--connection ssh|podman] [--keep]

It starts a throwaway podman container ``congvu-accounts-bench`` from the project's Debian 12 image,
installs slapd (Debian's packages, the congvu schema of bench/congvu-schema.ldif), runs every step
through ``ansible-playbook`` exactly as playbooks/accounts.yml does (AnsiballZ transfer included),
prints one table and removes the container (unless ``--keep``). Figures go to docs/accounts.md.
People come from congvu.names (data/vn_names.yml frequencies) over the Hà Nam catalogue.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from congvu.names import generate_people  # noqa: E402
from congvu.orgs import load_catalogue  # noqa: E402
from congvu.roster import Person, to_csv  # noqa: E402

CONTAINER = "congvu-accounts-bench"
IMAGE = "localhost/congvu-debian12:latest"
BASE = "dc=hanam,dc=gov,dc=vn"
PEERCRED = "gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"

SETUP = f"""
set -e
export DEBIAN_FRONTEND=noninteractive
echo "slapd slapd/domain string hanam.gov.vn" | debconf-set-selections
echo "slapd slapd/organization string Hanam" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq slapd ldap-utils python3-ldap python3-yaml python3-passlib >/dev/null
ldapmodify -Q -Y EXTERNAL -H ldapi:/// >/dev/null <<EOF
dn: olcDatabase={{1}}mdb,cn=config
changetype: modify
delete: olcRootPW
-
replace: olcRootDN
olcRootDN: {PEERCRED}
-
replace: olcDbMaxSize
olcDbMaxSize: 4294967296
EOF
ldapadd -Q -Y EXTERNAL -H ldapi:/// -f /root/congvu-schema.ldif >/dev/null
printf 'dn: ou=organisations,{BASE}\\nobjectClass: organizationalUnit\\nou: organisations\\n' \
  | ldapadd -Q -Y EXTERNAL -H ldapi:/// >/dev/null
"""

WIPE = f"""
set -e
ldapsearch -LLL -o ldif-wrap=no -Q -Y EXTERNAL -H ldapi:/// -b ou=organisations,{BASE} dn 1.1 \
  | awk '/^dn: /{{print substr($0,5)}}' | awk '{{print length, $0}}' | sort -rn | cut -d' ' -f2- \
  | grep -v '^ou=organisations' > /tmp/dns || true
[ -s /tmp/dns ] && ldapdelete -Q -Y EXTERNAL -H ldapi:/// -f /tmp/dns -c >/dev/null 2>&1 || true
"""

RECONCILE = """
- name: Reconcile
  hosts: bench
  gather_facts: false
  tasks:
    - name: Bring the directory to the roster
      congvu_reconcile:
        policy: "{{ lookup('ansible.builtin.file', root ~ '/policies/hanam.yml') | from_yaml }}"
        policy_source: policies/hanam.yml
        catalogue: "{{ lookup('ansible.builtin.file', root ~ '/data/catalogues/hanam.yml') | from_yaml }}"
        catalogue_source: data/catalogues/hanam.yml
        rosters:
          - source: bench-roster.csv
            content: "{{ lookup('ansible.builtin.file', roster) }}"
        password_secret: "{{ secret }}"
        write_mode: "{{ mode }}"
"""

NAIVE = """
- name: Naive loop
  hosts: bench
  gather_facts: false
  tasks:
    - name: One ldap_entry task per person
      community.general.ldap_entry:
        server_uri: ldapi:///
        sasl_class: external
        dn: "uid={{ item.uid }},o=stttt,ou=organisations,dc=hanam,dc=gov,dc=vn"
        objectClass: [inetOrgPerson, congvuMailAccount]
        attributes:
          cn: "{{ item.cn }}"
          sn: "{{ item.sn }}"
          mail: "{{ item.uid }}@hanam.gov.vn"
          employeeNumber: "{{ item.id }}"
      loop: "{{ people }}"
"""


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, **kw)


def in_container(script: str) -> None:
    sh(["podman", "exec", "-i", CONTAINER, "bash", "-s"], input=script, stdout=subprocess.DEVNULL)


def playbook(tmp: Path, text: str, extra: dict) -> tuple[float, float, dict]:
    """Run one playbook; return its wall time, its first task's wall time and that task's result
    (read from the ansible.posix.json stdout callback, so no extra task is timed)."""
    book = tmp / "play.yml"
    book.write_text(text)
    (tmp / "vars.json").write_text(json.dumps(extra))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
    start = time.monotonic()
    done = subprocess.run(["ansible-playbook", "-i", str(tmp / "inventory"), str(book),
                           "-e", f"@{tmp / 'vars.json'}"], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    wall = time.monotonic() - start
    if done.returncode:
        sys.exit(f"ansible-playbook failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    task = json.loads(done.stdout)["plays"][0]["tasks"][0]
    span = task["task"]["duration"]
    seconds = (dt.datetime.fromisoformat(span["end"].replace("Z", "+00:00"))
               - dt.datetime.fromisoformat(span["start"].replace("Z", "+00:00"))).total_seconds()
    return wall, seconds, task["hosts"]["bench"]


def inventory(tmp: Path, connection: str) -> str:
    """The bench host as Ansible reaches it: over SSH with pipelining (ansible.cfg), as production
    LDAP hosts are reached, or through ``podman exec`` (about 1.2 s per task on this machine, where a
    trivial ping task over SSH costs about 0.1 s)."""
    common = "ansible_python_interpreter=/usr/bin/python3"
    if connection == "podman":
        return f"bench ansible_connection=containers.podman.podman ansible_host={CONTAINER} {common}\n"
    key = tmp / "id_ed25519"
    sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
    in_container("set -e\nexport DEBIAN_FRONTEND=noninteractive\n"
                 "apt-get install -y -qq openssh-server >/dev/null\n"
                 "install -d -m 0700 /root/.ssh\n"
                 f"echo '{(tmp / 'id_ed25519.pub').read_text().strip()}' > /root/.ssh/authorized_keys\n"
                 "systemctl restart ssh\n")
    address = subprocess.run(["podman", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", CONTAINER],
                             check=True, capture_output=True, text=True).stdout.strip()
    return (f"bench ansible_connection=ssh ansible_host={address} ansible_user=root "
            f"ansible_ssh_private_key_file={key} {common} "
            "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n")


def roster_csv(count: int, seed: int) -> str:
    catalogue = load_catalogue(ROOT / "data/catalogues/hanam.yml")
    people = generate_people(count, list(catalogue), seed=seed, province="hanam", birth_date_share=1.0,
                             home_town_share=1.0)
    return to_csv(Person(id=p.id, name=p.full_name, birth_date=p.birth_date.isoformat(), org=p.org,
                         hometown=p.home_town or "") for p in people)


POSITIONS = {
    "agency": ["Giám đốc", "Phó Giám đốc", "Chánh Văn phòng", "Trưởng phòng", "Phó Trưởng phòng",
               "Chuyên viên chính", "Chuyên viên", "Chuyên viên", "Chuyên viên", "Kế toán", "Văn thư"],
    "district": ["Chủ tịch", "Phó Chủ tịch", "Chánh Văn phòng", "Trưởng phòng", "Chuyên viên",
                 "Chuyên viên", "Chuyên viên", "Văn thư"],
    "commune": ["Chủ tịch", "Phó Chủ tịch", "Công chức Văn phòng - Thống kê", "Công chức Tư pháp - Hộ tịch",
                "Công chức Địa chính - Xây dựng", "Công chức Tài chính - Kế toán"],
}
# Hà Nam Art 5.2 examples, so the demo shows the regulation's own cases on staging.
DEMO_PEOPLE = [
    ("HN-STTTT-9001", "Nguyễn Thị Thanh Hà", "1985-03-12", "stttt", "Chuyên viên", "Phủ Lý"),
    ("HN-STTTT-9002", "Nguyễn Văn Hùng", "1979-07-01", "stttt", "Trưởng phòng", "Kim Bảng"),
    ("HN-SLDTBXH-9003", "Nguyễn Văn Hùng", "1982-11-20", "sldtbxh", "Chuyên viên", "Lý Nhân"),
    ("HN-THANHLIEM-9004", "Nguyễn Văn Nam", "1975-02-14", "thanhliem", "Phó Chủ tịch", "Thanh Liêm"),
    ("HN-THANHHA-9005", "Nguyễn Văn Nam", "1990-09-09", "thanhha", "Công chức Tư pháp - Hộ tịch", "Thanh Hà"),
]


class _IndentedDumper(yaml.SafeDumper):
    """Indents list items under their key (yamllint's default indentation rule)."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def write_demo(out: Path, count: int, seed: int = 2026) -> None:
    """data/demo/<province>: one roster per top-level organisation (CSV with BOM as Excel writes it;
    one YAML), a few hundred people with realistic names, positions and genders."""
    import random

    from congvu.reconcile import org_dns, top_code

    catalogue = load_catalogue(ROOT / "data/catalogues/hanam.yml")
    names = yaml.safe_load((ROOT / "data/vn_names.yml").read_text(encoding="utf-8"))
    female = set(names["given_names"]["female"]) - set(names["given_names"]["male"])
    rng = random.Random(seed)
    dns = org_dns(catalogue, BASE)
    people = generate_people(count, list(catalogue), seed=seed, province="hanam", birth_date_share=1.0,
                             home_town_share=0.6)
    by_top: dict[str, list[Person]] = {}
    for p in people:
        kind = catalogue.agency_of(p.org).kind
        given = p.full_name.split()[-1]
        gender = "female" if " Thị " in f" {p.full_name} " or given in female else "male"
        person = Person(id=f"HN-{p.org.upper()}-{int(p.id[1:]):04d}", name=p.full_name,
                        birth_date=p.birth_date.isoformat(), org=p.org, gender=gender,
                        position=rng.choice(POSITIONS.get(kind, POSITIONS["agency"])),
                        hometown=p.home_town or "")
        by_top.setdefault(top_code(dns[p.org]), []).append(person)
    for pid, name, birth, org, position, town in DEMO_PEOPLE:
        by_top.setdefault(top_code(dns[org]), []).append(Person(
            id=pid, name=name, birth_date=birth, org=org, position=position, hometown=town,
            gender="female" if " Thị " in name else "male"))
    rosters = out / "rosters"
    rosters.mkdir(parents=True, exist_ok=True)
    for top, members in by_top.items():
        members[0] = dataclasses.replace(members[0], admin=True)  # the agency's delegated admin
        if top == "sldtbxh":
            entries = [{"Mã cán bộ": m.id, "Họ và tên": m.name, "Ngày sinh": m.birth_date,
                        "Giới tính": "Nữ" if m.gender == "female" else "Nam", "Đơn vị": m.org,
                        "Chức vụ": m.position, **({"Quê quán": m.hometown} if m.hometown else {}),
                        **({"Quản trị": True} if m.admin else {})} for m in members]
            text = ("# Danh sách cán bộ, công chức - Sở Lao động - Thương binh và Xã hội (dữ liệu mẫu)\n"
                    + yaml.dump({"organisation": top, "people": entries}, Dumper=_IndentedDumper,
                                allow_unicode=True, sort_keys=False, width=120))
            (rosters / f"{top}.yml").write_text("---\n" + text, encoding="utf-8")
        else:
            (rosters / f"{top}.csv").write_text("\ufeff" + to_csv(members), encoding="utf-8")
    print(f"wrote {sum(map(len, by_top.values()))} people in {len(by_top)} rosters under {rosters}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20000)
    parser.add_argument("--sample", type=int, default=200, help="people in the naive ldap_entry loop")
    parser.add_argument("--modes", default="txn", help="write modes to compare (txn,async,sync)")
    parser.add_argument("--connection", choices=("ssh", "podman"), default="ssh",
                        help="how Ansible reaches the LDAP host (production uses SSH with pipelining)")
    parser.add_argument("--keep", action="store_true", help="leave the container running")
    parser.add_argument("--write-demo", metavar="DIR", help="only write the demo rosters (data/demo/hanam)")
    args = parser.parse_args()
    if args.write_demo:
        write_demo(Path(args.write_demo), args.people if args.people != 20000 else 300)
        return 0

    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="congvu-bench-") as tmpdir:
        tmp = Path(tmpdir)
        roster = tmp / "roster.csv"
        t0 = time.monotonic()
        roster.write_text(roster_csv(args.people, seed=20))
        print(f"generated {args.people} people in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        subprocess.run(["podman", "rm", "-f", CONTAINER], capture_output=True, check=False)
        sh(["podman", "run", "-d", "--name", CONTAINER, "--cap-add", "SYS_ADMIN", IMAGE, "/sbin/init"],
           stdout=subprocess.DEVNULL)
        try:
            time.sleep(2)
            sh(["podman", "cp", str(ROOT / "bench/congvu-schema.ldif"),
                f"{CONTAINER}:/root/congvu-schema.ldif"])
            t0 = time.monotonic()
            in_container(SETUP)
            print(f"slapd ready in {time.monotonic() - t0:.1f} s", file=sys.stderr)
            (tmp / "inventory").write_text(inventory(tmp, args.connection))
            common = {"root": str(ROOT), "roster": str(roster), "secret": os.urandom(24).hex()}
            for mode in args.modes.split(","):
                in_container(WIPE)
                wall, task, res = playbook(tmp, RECONCILE, {**common, "mode": mode})
                t = res["timings"]
                rows.append((f"first apply ({mode}), {res['summary']['created']} accounts",
                             f"{wall:.1f}",
                             f"task {task:.1f} s, module {t['total']:.1f} s "
                             f"(CPU {t['cpu']} s incl. hash workers): "
                             f"parse {t['parse']}, read {t['read']}, plan {t['plan']}, "
                             f"hash {t.get('hash', 0)}, write {t.get('write', 0)}"))
                wall, task, res = playbook(tmp, RECONCILE, {**common, "mode": mode})
                t = res["timings"]
                rows.append((f"unchanged re-apply ({mode}), changed={res['changed']}", f"{wall:.1f}",
                             f"task {task:.1f} s, module {t['total']:.1f} s (CPU {t['cpu']} s): "
                             f"parse {t['parse']}, "
                             f"read {t['read']}, plan {t['plan']}"))
            sample = [{"uid": f"naive{i}", "cn": f"Naive {i}", "sn": "Naive", "id": f"naive-{i}"}
                      for i in range(args.sample)]
            wall, _, _ = playbook(tmp, NAIVE, {"people": sample})
            per = wall / args.sample
            rows.append((f"naive ldap_entry loop, {args.sample} people", f"{wall:.1f}",
                         f"{per * 1000:.0f} ms/person -> {per * args.people:.0f} s "
                         f"({per * args.people / 60:.1f} min) for {args.people}"))
        finally:
            if not args.keep:
                subprocess.run(["podman", "rm", "-f", CONTAINER], capture_output=True, check=False)
    rows.append(("load average (1, 5, 15 min) at the end", "", " ".join(f"{x:.1f}" for x in os.getloadavg())))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'step':<{width}}  {'wall s':>7}  detail")
    for step, wall, detail in rows:
        print(f"{step:<{width}}  {wall:>7}  {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
