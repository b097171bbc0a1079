"""The wiring of a province: the validated policy, the organisation catalogue and the inventory's
groups turned into every role's variables, host by host.

This is the one place that knows how the roles fit together: which host a mail server asks for the
directory and how, where Postfix finds the filter, which domains are DKIM-signed, which host offers
which port to whom. ``group_vars/all/wiring.yml`` only references the result (``congvu_wiring``, a
fact the ``congvu_wiring`` action plugin sets per host), so the logic is written once and tested
here, over every shipped inventory (``tests/unit/test_wiring.py``). The layouts and the ports are
described in ``docs/topology.md``.

    hosts = wire(policy, catalogue, groups, addresses)
    hosts["mx.gialai.gov.vn"]["postfix_milters"]      # ['inet:filter.gialai.gov.vn:11332']

Inputs:

``policy``
    The effective, normalised policy (``congvu.policy.load_policy``; sizes in bytes, durations in
    days).
``catalogue``
    The province's organisation catalogue (``congvu.orgs``), or None: then only the policy's own
    domains are mail domains (schemes with one domain need no catalogue for this).
``groups``
    Inventory group name -> host names (Ansible's ``groups``). The host names are FQDNs.
``addresses``
    Host name -> the address its peers reach it on (``congvu_address``, else the host's default
    IPv4 address from its facts). Needed for the firewall and the hosts file whenever a service is
    used across hosts; an all-in-one host needs none.
``settings``
    Inventory choices the wiring reads (see :data:`SETTINGS`).

Every problem of the inventory is collected and raised at once as a :class:`WiringError` naming the
host and the rule, before any host is touched.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from congvu.backup import SERVER_HOME, SERVER_ROOT, SERVER_USER
from congvu.backup import clients as backup_clients
from congvu.backup import remote as backup_remote
from congvu.backup import schedule as backup_schedule
from congvu.errors import CongvuError
from congvu.monitoring import (
    backup_max_age_hours,
    incident_report,
    regulation_switch_reminder,
    report_reminders,
    summary_report_reminders,
)
from congvu.monitoring import probes as monitoring_probes
from congvu.monitoring import targets as monitoring_targets
from congvu.policy import place_vi
from congvu.reconcile import base_dn
from congvu.replies import refusal_replies
from congvu.workdays import public_calendar

__all__ = ["ALL_GROUPS", "FRONTED", "GROUPS", "LDAPS_CLIENTS", "OPTIONAL_GROUPS", "SERVICES", "SETTINGS",
           "Layout", "WiringError", "firewall_gaps",
           "layout", "organisation_domains", "sending_domains", "wire"]

#: The groups every inventory has, under ``congvu`` (docs/topology.md).
GROUPS = ("ldap_servers", "mail_servers", "filter_servers", "webmail_servers")
#: Groups an inventory may have: a backup server that keeps the other hosts' Borg repositories, so
#: that a dead server's backups do not die with it (docs/backup.md, "Backup server").
#: A front for mail clients: HAProxy passing IMAP, POP3, submission and ManageSieve to the first mailbox
#: server while it answers, to the second when it does not (docs/topology.md, "The front").
#: A monitoring host: Prometheus, Alertmanager and the blackbox exporter watching every host
#: (docs/monitoring.md).
OPTIONAL_GROUPS = ("backup_servers", "front_servers", "monitoring_servers")
ALL_GROUPS = GROUPS + OPTIONAL_GROUPS

#: The most hosts a group may list, and why (a group not named here has no limit). Several directory
#: servers replicate each other (multi-provider, docs/openldap.md "Replication"); two mailbox servers
#: replicate each other (Dovecot's replicator, docs/mailcore.md "Two mailbox servers").
AT_MOST = {
    "mail_servers": (2, "Dovecot's replication works between two mailbox servers"),
    "filter_servers": (1, "Postfix calls one filter; a second filter host would be ignored"),
    "backup_servers": (1, "each host has one repository; a second copy is the backup server's own job"),
    "front_servers": (1, "two fronts need an address that moves between them (keepalived), which "
                         "congvu-mail does not set up"),
    "monitoring_servers": (1, "two Prometheus servers would mail every alert twice"),
}

#: The pseudo group of a service every host offers (the node exporter).
EVERY_HOST = "congvu"


def _members(groups: Mapping[str, tuple[str, ...]], group: str) -> tuple[str, ...]:
    """The hosts of ``group`` (every host of the layout for :data:`EVERY_HOST`)."""
    if group == EVERY_HOST:
        return tuple(dict.fromkeys(h for g in ALL_GROUPS for h in groups[g]))
    return groups[group]


@dataclass(frozen=True)
class Service:
    """A port a group offers and who may reach it."""

    port: int
    proto: str
    group: str
    #: "public" (everyone), "admin" (the admin networks) or the client groups (peers).
    clients: tuple[str, ...]
    why: str


#: The services of the layouts. Public services are open to everyone; peer services to the hosts of
#: the client groups only (by address); a service used only on its own host stays on loopback and is
#: not listed (Redis, clamd, the Rspamd controller, LMTP, the Sieve listener).
SERVICES: dict[str, Service] = {
    # Cần Thơ Art 3.4, Gia Lai Art 7.1: IMAP/POP clients and SMTP for everyone.
    "smtp": Service(25, "tcp", "mail_servers", ("public",), "SMTP from the Internet (MX)"),
    "submission": Service(587, "tcp", "mail_servers", ("public",), "submission (STARTTLS)"),
    "submissions": Service(465, "tcp", "mail_servers", ("public",), "submission (implicit TLS)"),
    "imaps": Service(993, "tcp", "mail_servers", ("public",), "IMAP over TLS"),
    "pop3s": Service(995, "tcp", "mail_servers", ("public",), "POP3 over TLS"),
    "sieve": Service(4190, "tcp", "mail_servers", ("public",), "ManageSieve"),
    # Webmail over HTTPS; HTTP only redirects to it.
    "http": Service(80, "tcp", "webmail_servers", ("public",), "HTTP (redirect to HTTPS)"),
    "https": Service(443, "tcp", "webmail_servers", ("public",), "webmail"),
    # Cần Thơ Art 3.2: the directory is the province's SSO source (LDAPS). Open to the networks that
    # need it (the setting ldaps_client_networks) and to the other hosts of the layout, never to
    # everyone: a bind is a password guess (docs/security.md, finding 6).
    "ldaps": Service(636, "tcp", "ldap_servers", ("ldaps_clients",), "LDAPS (directory clients, SSO)"),
    # Between the province's own servers only.
    "ldap": Service(389, "tcp", "ldap_servers", ("mail_servers", "webmail_servers", "ldap_servers"),
                    "LDAP with StartTLS for the mail and webmail servers, and replication between "
                    "directory servers"),
    "rspamd_milter": Service(11332, "tcp", "filter_servers", ("mail_servers",),
                             "the Rspamd milter for Postfix"),
    # Two mailbox servers: each one's replicator runs dsync on the other's doveadm server, over TLS
    # and with the shared doveadm password (docs/mailcore.md, "Two mailbox servers").
    "doveadm": Service(12345, "tcp", "mail_servers", ("mail_servers",),
                       "Dovecot replication (dsync over TLS) between the mailbox servers"),
    # The backup server's SSH, where each host's key may run only `borg serve --append-only` on its
    # own repository (docs/backup.md, "Backup server").
    "borg": Service(22, "tcp", "backup_servers", GROUPS, "Borg over SSH to this host's repositories"),
    # The front (docs/topology.md, "The front"; standby capacity, Hà Nam Art 10.7, Gia Lai Art 8.3.a;
    # service 24/24, Ninh Bình Art 15.2): the client ports on the front host, passed to the
    # mailbox servers' proxied listeners, which take the PROXY protocol from the front alone (so
    # Dovecot and Postfix see, log and limit the client's own address, not the front's).
    "front_imaps": Service(993, "tcp", "front_servers", ("public",), "IMAP over TLS, via the front"),
    "front_pop3s": Service(995, "tcp", "front_servers", ("public",), "POP3 over TLS, via the front"),
    "front_submission": Service(587, "tcp", "front_servers", ("public",),
                                "submission (STARTTLS), via the front"),
    "front_submissions": Service(465, "tcp", "front_servers", ("public",),
                                 "submission (implicit TLS), via the front"),
    "front_sieve": Service(4190, "tcp", "front_servers", ("public",), "ManageSieve, via the front"),
    "imaps_proxied": Service(10993, "tcp", "mail_servers", ("front_servers",),
                             "IMAP over TLS from the front (PROXY protocol)"),
    "pop3s_proxied": Service(10995, "tcp", "mail_servers", ("front_servers",),
                             "POP3 over TLS from the front (PROXY protocol)"),
    "submission_proxied": Service(10587, "tcp", "mail_servers", ("front_servers",),
                                  "submission (STARTTLS) from the front (PROXY protocol)"),
    "submissions_proxied": Service(10465, "tcp", "mail_servers", ("front_servers",),
                                   "submission (implicit TLS) from the front (PROXY protocol)"),
    "sieve_proxied": Service(14190, "tcp", "mail_servers", ("front_servers",),
                             "ManageSieve from the front (PROXY protocol)"),
    # docs/monitoring.md: the exporters Prometheus scrapes, open to the monitoring host alone
    # (congvu.monitoring.EXPORTERS has the same ports). Their metrics carry no secret; still, nobody
    # else needs them.
    "node_exporter": Service(9100, "tcp", EVERY_HOST, ("monitoring_servers",),
                             "node exporter (system, services, backups, antivirus) for Prometheus"),
    "postfix_exporter": Service(9154, "tcp", "mail_servers", ("monitoring_servers",),
                                "Postfix exporter (queues, deliveries) for Prometheus"),
    "dovecot_metrics": Service(9900, "tcp", "mail_servers", ("monitoring_servers",),
                               "Dovecot's OpenMetrics (logins that succeeded and failed) for Prometheus"),
    "nginx_exporter": Service(9113, "tcp", "webmail_servers", ("monitoring_servers",),
                              "nginx exporter (the webmail's connections and requests) for Prometheus"),
}

#: What the front passes where: its service -> the mailbox servers' proxied service, and how HAProxy
#: checks a server on it (``expect``: the greeting, read after TLS where the port is TLS; then ``quit``
#: is sent and ``bye`` awaited, so that the server logs a client that logged out, not a broken
#: connection). Each listener checks its own servers: HAProxy also watches the clients' connections
#: (``observe``) only on a checked server, and that is what moves clients off a dead server within one
#: connect timeout (docs/topology.md, "The front"). ``check``: the service the check connects to
#: instead of the proxied one, without a PROXY header. Postfix's submission is checked on its direct
#: port: a check's header is a PROXY v2 LOCAL (no client), and Postfix 3.7's smtpd exits fatally on
#: a LOCAL connection that is already closed when it reads it (a check that timed out), after which
#: its master throttles the service for 60 s, during which more checks time out: the proxied
#: submission of that server never came back. ``daemon`` says which role opens the proxied port
#: (dovecot_proxy_ports, postfix_proxy_ports).
FRONTED: dict[str, dict[str, Any]] = {
    "front_imaps": {"name": "imaps", "daemon": "dovecot", "server": "imaps_proxied", "tls": True,
                    "expect": "* OK", "quit": "a LOGOUT", "bye": "* BYE"},
    "front_pop3s": {"name": "pop3s", "daemon": "dovecot", "server": "pop3s_proxied", "tls": True,
                    "expect": "+OK", "quit": "QUIT", "bye": "+OK Logging out"},
    "front_sieve": {"name": "sieve", "daemon": "dovecot", "server": "sieve_proxied",
                    "expect": "IMPLEMENTATION", "quit": "LOGOUT", "bye": "Logout completed"},
    "front_submissions": {"name": "submissions", "daemon": "postfix", "server": "submissions_proxied",
                          "check": "submissions", "tls": True, "expect": "220 ", "quit": "QUIT",
                          "bye": "221 "},
    "front_submission": {"name": "submission", "daemon": "postfix", "server": "submission_proxied",
                         "check": "submission", "expect": "220 ", "quit": "QUIT", "bye": "221 "},
}

#: Settings the wiring reads from the inventory, with their defaults.
SETTINGS: dict[str, Any] = {
    # Networks of the administrators (SSH and the admin ports), CIDRs.
    "admin_networks": [],
    # Rspamd's web interface on the filter hosts, published to the admin networks (rspamd_webui_*).
    # It is on when admin networks are given, and then its port opens to them alone.
    "webui_port": 11443,
    # Host name -> the public address of a host (congvu_public_address), for the DNS records.
    "public_addresses": {},
    # Networks (CIDRs) whose directory clients use LDAPS (636): SSO applications (Cần Thơ Art 3.2),
    # the operators' tools. None: the other hosts of the layout only (all-in-one: 636 stays closed to
    # the network). docs/security.md.
    "ldaps_client_networks": None,
    # Relays (CIDRs) allowed to send mail claiming the province's domains on port 25 without
    # authenticating: agency application servers, a backup MX (postfix_trusted_relays,
    # rspamd_trusted_relays). docs/security.md.
    "trusted_relays": [],
}

#: The pseudo client group of the ldaps service: the networks of ``ldaps_client_networks`` and the
#: other hosts of the layout.
LDAPS_CLIENTS = "ldaps_clients"

# Where an ACME client puts its HTTP-01 answers on a webmail host, served by nginx on port 80
# under /.well-known/acme-challenge/ (docs/security.md, "Certificates").
ACME_WEBROOT = "/var/lib/congvu/acme-challenge"


class WiringError(CongvuError):
    """The inventory cannot be wired (the message lists every problem, host and rule)."""


@dataclass(frozen=True)
class Layout:
    """The validated inventory: hosts in the congvu groups and the address of each."""

    groups: dict[str, tuple[str, ...]]
    addresses: dict[str, str]

    @property
    def hosts(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for group in ALL_GROUPS:
            for host in self.groups[group]:
                seen.setdefault(host)
        return tuple(seen)

    def groups_of(self, host: str) -> list[str]:
        return [g for g in ALL_GROUPS if host in self.groups[g]]

    def first(self, group: str) -> str:
        return self.groups[group][0]

    def local(self, host: str, group: str) -> bool:
        return host in self.groups[group]


def _fqdn(name: str) -> bool:
    labels = name.split(".")
    return len(labels) >= 2 and all(
        label and len(label) <= 63 and label[0].isalnum() and label[-1].isalnum()
        and all(c.isalnum() or c == "-" for c in label) and label == label.lower()
        for label in labels) and labels[-1].isalpha()


def _address(value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return None


def _needs_address(lay_groups: Mapping[str, tuple[str, ...]], host: str) -> list[str]:
    """Why peers need ``host``'s address: the peer services it offers to another host, or uses."""
    reasons = []
    for name, service in SERVICES.items():
        if "public" in service.clients or LDAPS_CLIENTS in service.clients:
            continue
        clients = {c for g in service.clients for c in lay_groups[g]}
        servers = set(_members(lay_groups, service.group))
        if host in servers and clients - {host}:
            reasons.append(f"it offers {name} ({service.port}/{service.proto}) to other hosts")
        if host in clients and servers - {host}:
            reasons.append(f"it uses {name} on another host")
    return reasons


def layout(groups: Mapping[str, Iterable[str]], addresses: Mapping[str, Any] | None = None,
           *, source: str = "inventory") -> Layout:
    """Validate the inventory's groups and addresses; raise one WiringError listing every problem."""
    problems: list[str] = []
    addresses = dict(addresses or {})
    lay: dict[str, tuple[str, ...]] = {}
    for group in GROUPS:
        hosts = list(dict.fromkeys(str(h) for h in (groups.get(group) or ())))
        if not hosts:
            problems.append(f"group {group} has no host [every layout has each group, docs/topology.md]")
        lay[group] = tuple(hosts)
    for group in OPTIONAL_GROUPS:
        lay[group] = tuple(dict.fromkeys(str(h) for h in (groups.get(group) or ())))
    in_groups = {h for hosts in lay.values() for h in hosts}
    for host in sorted(set(groups.get("congvu") or ()) - in_groups):
        problems.append(f"{host}: in group congvu but in none of {', '.join(ALL_GROUPS)} "
                        "[every host serves at least one group]")
    for host in sorted(in_groups):
        if not _fqdn(host):
            problems.append(f"{host}: inventory host names are lower-case FQDNs such as mail.hanam.gov.vn "
                            "[host name = FQDN]")
    for group, (most, why) in AT_MOST.items():
        if len(lay[group]) > most:
            hosts = {1: "one host", 2: "two hosts"}.get(most, f"{most} hosts")
            problems.append(f"group {group} lists {', '.join(lay[group])}: {hosts} at most ({why}) "
                            "[docs/topology.md]")
    for host in sorted(set(lay["front_servers"]) & set(lay["mail_servers"])):
        problems.append(f"{host}: in front_servers and mail_servers: the front takes the client ports "
                        "(993, 995, 465, 587, 4190) its mailbox server listens on; give the front a host "
                        "that is not a mailbox server [docs/topology.md, \"The front\"]")
    resolved: dict[str, str] = {}
    for host in sorted(in_groups):
        address = _address(addresses.get(host))
        if address:
            resolved[host] = address
            continue
        if addresses.get(host) not in (None, ""):
            problems.append(f"{host}: congvu_address {addresses[host]!r} is not an IP address [IP address]")
            continue
        reasons = _needs_address(lay, host)
        if reasons:
            problems.append(f"{host}: no address known, but {reasons[0]}: set congvu_address for it in the "
                            "inventory, or let Ansible gather its facts (do not --limit them away) "
                            "[a peer's address]")
    if problems:
        raise WiringError("; ".join(problems), source=source, rule="inventory layout")
    return Layout(groups=lay, addresses=resolved)


def sending_domains(policy: Mapping[str, Any], catalogue: Any = None) -> list[str]:
    """Every domain the province sends from: the primary domain, the extra ones (merged provinces)
    and, where the scheme gives organisations their own subdomain, each of those (Gia Lai Art 4.1).
    Each gets a DKIM key and DNS records."""
    domains = [policy["domains"]["primary"], *policy["domains"].get("extra", [])]
    if catalogue is not None and policy["domains"].get("organisation_subdomains"):
        from congvu.naming import make_scheme  # local import: the scheme registry is heavy

        scheme = make_scheme(policy["naming"], catalogue)
        domains += [scheme.org_domain(code) for code in catalogue]
    return list(dict.fromkeys(d.lower() for d in domains))


def _network(text: Any) -> str | None:
    try:
        return str(ipaddress.ip_network(str(text).strip(), strict=False))
    except ValueError:
        return None


def _ldaps_rule(lay: Layout, host: str, service: Service, networks: list[str] | None) -> dict | None:
    """LDAPS (636) from the configured client networks and the layout's other hosts; None when nobody
    outside this host needs it (the all-in-one default)."""
    peers = [h for h in lay.hosts if h != host and h in lay.addresses]
    sources = list(dict.fromkeys([*(networks or []), *(lay.addresses[h] for h in peers)]))
    if not sources:
        return None
    who = ", ".join([*(networks or []), *peers])
    return {"port": service.port, "proto": service.proto,
            "sources": sorted(sources, key=_sort_address), "comment": f"ldaps from {who}: {service.why}"}


def organisation_domains(policy: Mapping[str, Any], catalogue: Any = None) -> dict[str, str]:
    """Top-level organisation code -> its own mail subdomain, where the scheme gives organisations
    subdomains (Gia Lai Art 4.1); empty otherwise. Units use their parent's subdomain and are not
    listed: the directory keeps them below their top-level organisation."""
    if catalogue is None or not policy["domains"].get("organisation_subdomains"):
        return {}
    from congvu.naming import make_scheme  # local import: the scheme registry is heavy

    scheme = make_scheme(policy["naming"], catalogue)
    return {code: scheme.org_domain(code) for code in catalogue
            if not getattr(catalogue[code], "parent", None) and catalogue[code].kind != "unit"}


def _peer_rules(lay: Layout, host: str, ldaps_networks: list[str] | None = None
                ) -> tuple[list[dict], list[dict]]:
    """The host's firewall rules (port, proto, sources, comment) and the paths its peers need."""
    rules, required = [], []
    for name, service in SERVICES.items():
        if host not in _members(lay.groups, service.group):
            continue
        if "public" in service.clients:
            rules.append({"port": service.port, "proto": service.proto, "sources": [],
                          "comment": f"{name}: {service.why}"})
            continue
        if LDAPS_CLIENTS in service.clients:
            rule = _ldaps_rule(lay, host, service, ldaps_networks)
            if rule:
                rules.append(rule)
            continue
        clients = [h for g in service.clients for h in lay.groups[g] if h != host]
        clients = list(dict.fromkeys(clients))
        if not clients:
            continue  # all-in-one: the clients are on this host (loopback)
        sources = sorted({lay.addresses[h] for h in clients}, key=_sort_address)
        rules.append({"port": service.port, "proto": service.proto, "sources": sources,
                      "comment": f"{name} from {', '.join(clients)}: {service.why}"})
        required.append({"port": service.port, "proto": service.proto, "sources": sources,
                         "service": name, "clients": clients})
    return rules, required


def _sort_address(text: str) -> tuple:
    ip = ipaddress.ip_network(text, strict=False)
    return ip.version, ip.network_address.packed, ip.prefixlen


def firewall_gaps(rules: Iterable[Mapping[str, Any]], required: Iterable[Mapping[str, Any]],
                  enabled: bool = True) -> list[str]:
    """The required peer paths the firewall rules do not admit, as sentences naming the service,
    the port and the client host (the common role's preflight fails on any)."""
    if not enabled:
        return []
    admitted: dict[tuple[int, str], list] = {}
    for rule in rules:
        key = (int(rule["port"]), str(rule.get("proto", "tcp")))
        sources = rule.get("sources") or []
        nets = [ipaddress.ip_network(str(s), strict=False) for s in sources] if sources else None
        if nets is None:
            admitted[key] = [None]
        elif admitted.get(key) != [None]:
            admitted.setdefault(key, []).extend(nets)
    gaps = []
    for need in required:
        key = (int(need["port"]), str(need.get("proto", "tcp")))
        nets = admitted.get(key, [])
        clients = need.get("clients") or need["sources"]
        for client, source in zip(clients, need["sources"], strict=False):
            ip = ipaddress.ip_address(str(source).split("/")[0])
            if nets == [None] or any(n is not None and ip in n for n in nets):
                continue
            gaps.append(f"{need.get('service', key[0])} ({key[0]}/{key[1]}) is not open to "
                        f"{client} ({source})")
    return gaps


def _ldap_uris(lay: Layout) -> str:
    """Every directory server as one space-separated list of URIs, the first inventory host first:
    libldap (Postfix, Dovecot, python-ldap) and PHP's ldap_connect try them in turn, so a client
    fails over when a server is down, and writes go to the first while it lives."""
    return " ".join(f"ldap://{h}" for h in lay.groups["ldap_servers"])


def _ldap(lay: Layout, host: str) -> tuple[str, bool]:
    """URI(s) and StartTLS of the directory as seen from ``host``: its own slapd over ldapi where it
    has one, otherwise every directory server (StartTLS)."""
    if lay.local(host, "ldap_servers"):
        return "ldapi:///", False
    return _ldap_uris(lay), True


def _replication(lay: Layout, host: str) -> dict[str, Any]:
    """The openldap role's replication settings of ``host`` (docs/openldap.md, "Replication"; standby
    capacity, Hà Nam Art 10.7, Gia Lai Art 8.3.a): with
    several directory servers each is a provider (server ID = its place in the group, from 1) that
    pulls every other one; with one, no replication (server ID 0)."""
    providers = lay.groups["ldap_servers"]
    if host not in providers or len(providers) < 2:
        return {"openldap_server_id": 0, "openldap_replication_peers": []}
    return {"openldap_server_id": providers.index(host) + 1,
            "openldap_replication_peers": [f"ldap://{h}" for h in providers if h != host]}


def _mail_replica(lay: Layout, host: str) -> str:
    """The dsync target of ``host`` for the dovecot role (``dovecot_replica``; docs/mailcore.md, "Two
    mailbox servers"; standby capacity, Hà Nam Art 10.7, Gia Lai Art 8.3.a): the other mailbox server
    over TLS, or "" where there is one mailbox server."""
    servers = lay.groups["mail_servers"]
    if host not in servers or len(servers) < 2:
        return ""
    peer = next(h for h in servers if h != host)
    return f"tcps:{peer}:{SERVICES['doveadm'].port}"


def _webmail_names(policy: Mapping[str, Any], domains: list[str]) -> list[str]:
    """The public names of the webmail: the policy's and ``mail.<domain>`` for each domain."""
    return [policy["webmail"]["host"], *[f"mail.{d}" for d in domains]]


def _san_names(policy: Mapping[str, Any], lay: Layout, host: str, domains: list[str]) -> list[str]:
    names: list[str] = []
    if lay.local(host, "webmail_servers"):
        names += _webmail_names(policy, domains)
    if lay.local(host, "ldap_servers"):
        names += [f"ldap.{d}" for d in domains]
    if lay.local(host, "mail_servers"):
        # The front passes TLS through: a client that reached a mailbox server by one of the front's
        # names checks that name in the mailbox server's certificate.
        for front in lay.groups["front_servers"]:
            names.append(front)
            if lay.local(front, "webmail_servers"):
                names += _webmail_names(policy, domains)
    return [n for n in dict.fromkeys(names) if n != host]


def _front(lay: Layout) -> dict[str, Any]:
    """The haproxy role's listeners and servers (docs/topology.md, "The front"): each client port
    passed to the same service's proxied port on the mailbox servers, the first inventory host active
    and the other its backup."""
    listeners = []
    for name, how in FRONTED.items():
        listener = {"name": how["name"], "port": SERVICES[name].port,
                    "server_port": SERVICES[how["server"]].port, "why": SERVICES[name].why}
        listener.update({k: how[k] for k in ("tls", "expect", "quit", "bye") if k in how})
        if "check" in how:
            listener["check_port"] = SERVICES[how["check"]].port
        listeners.append(listener)
    return {"haproxy_listeners": listeners,
            "haproxy_servers": [{"name": h, "address": lay.addresses[h]} for h in lay.groups["mail_servers"]]}


def _proxied(lay: Layout) -> dict[str, Any]:
    """What the dovecot and postfix roles open to the front: the proxied ports (none without a front)
    and the addresses allowed to send the PROXY protocol."""
    if not lay.groups["front_servers"]:
        return {"dovecot_proxy_networks": [], "dovecot_proxy_ports": {}, "postfix_proxy_ports": {}}
    ports: dict[str, dict[str, int]] = {"dovecot": {}, "postfix": {}}
    for how in FRONTED.values():
        ports[how["daemon"]][how["name"]] = SERVICES[how["server"]].port
    return {"dovecot_proxy_networks": [lay.addresses[h] for h in lay.groups["front_servers"]],
            "dovecot_proxy_ports": ports["dovecot"], "postfix_proxy_ports": ports["postfix"]}


def _monitoring(policy: Mapping[str, Any], lay: Layout, host: str, monitor: str | None,
                mail_host: str, system_name: str) -> dict[str, Any]:
    """The monitoring roles' variables of ``host``: exporters everywhere once there is a monitoring
    host; on that host, what Prometheus scrapes and probes and where Alertmanager mails."""
    primary = policy["domains"]["primary"]
    v: dict[str, Any] = {
        "exporters_enabled": monitor is not None,
        "exporters_postfix": monitor is not None and lay.local(host, "mail_servers"),
        "exporters_clamav": monitor is not None and lay.local(host, "filter_servers"),
        # Rspamd's own figures (its controller's /metrics) where it runs
        "exporters_rspamd": monitor is not None and lay.local(host, "filter_servers"),
        # replication lag (Hà Nam Art 10.7, Gia Lai Art 8.3.a: standby capacity that actually holds
        # the data): each directory server's contextCSN, each mailbox server's replicator queues
        "exporters_ldap_base_dn":
            base_dn(primary) if monitor and _replication(lay, host)["openldap_server_id"] else "",
        "exporters_dovecot_replication": bool(monitor and _mail_replica(lay, host)),
        # an address two entries hold (a hand-made alias equal to another's address): Postfix defers
        # its mail (docs/directory.md); the first directory server looks for them (alert DiaChiTrung)
        "exporters_address_base_dn":
            base_dn(primary) if monitor and host == lay.first("ldap_servers") else "",
        # slapd's own figures (cn=Monitor: connections, operations, waiters) on every directory server
        "exporters_ldap_monitor": monitor is not None and lay.local(host, "ldap_servers"),
        # the webmail's web server (nginx's stub_status) and its PHP-FPM pool (its status page)
        "exporters_webmail": monitor is not None and lay.local(host, "webmail_servers"),
        "dovecot_metrics_port": SERVICES["dovecot_metrics"].port if monitor else 0,
    }
    if host == monitor:
        v.update({
            "prometheus_scrape_targets": monitoring_targets(lay),
            "prometheus_probes": monitoring_probes(lay),
            "prometheus_backup_max_age_hours": backup_max_age_hours(policy),
            "prometheus_report_reminders": report_reminders(policy),
            "prometheus_summary_report_reminders": summary_report_reminders(policy),
            "prometheus_incident_report": incident_report(policy),
            "prometheus_regulation_switch": regulation_switch_reminder(policy),
            # The alerts go to the postmaster mailbox (RFC 2142: the contact for the mail system;
            # the operators read it), through the first mailbox server.
            "alertmanager_email_to": [f"postmaster@{primary}"],
            "alertmanager_email_from": f"postmaster@{primary}",
            "alertmanager_smarthost": (f"localhost:{SERVICES['smtp'].port}" if host == mail_host
                                       else f"{mail_host}:{SERVICES['smtp'].port}"),
            "alertmanager_system_name": system_name,
            "prometheus_system_name": system_name,
        })
    return v


def _password_policies(policy: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """ppolicy + ppm per directory role, from the policy's passwords.<role> (Hà Nam Art 8.2,
    Gia Lai Art 9, Cần Thơ Art 10.3/11.4, Ninh Bình Art 11.1-11.2). max_age is in days; null (seed
    silent) means no expiry."""
    out = {}
    for ldap_role, policy_role in (("users", "user"), ("admins", "admin"), ("organisations", "organisation")):
        p = policy["passwords"][policy_role]
        out[ldap_role] = {
            "min_length": int(p["min_length"]),
            "classes": list(p["classes"]),
            "special_chars": p["special_chars"],
            "max_age_days": int(p.get("max_age") or 0),
            "history": int(p["history"]),
            "lockout_attempts": int(p["lockout_attempts"]),
            "lockout_minutes": int(p["lockout_minutes"]),
            "must_change_initial": bool(p["must_change_initial"]),
        }
    return out


_ENCRYPTED = {"flag": "add_header", "reject": "reject", "allow": "allow"}


def wire(policy: Mapping[str, Any], catalogue: Any, groups: Mapping[str, Iterable[str]],
         addresses: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None,
         *, source: str = "inventory") -> dict[str, dict[str, Any]]:
    """Role variables for every host of the layout (host name -> variable name -> value)."""
    opts = {**SETTINGS, **{k: v for k, v in (settings or {}).items() if v is not None}}
    unknown = sorted(set(settings or {}) - set(SETTINGS))
    if unknown:
        raise WiringError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}",
                          source=source, rule="wiring settings")
    problems = [f"{key}: {opts[key]!r} is not a list of IP networks (CIDR) [IP network]"
                for key in ("ldaps_client_networks", "trusted_relays")
                if opts[key] is not None and (not isinstance(opts[key], (list, tuple))
                                              or any(_network(n) is None for n in opts[key]))]
    if problems:
        raise WiringError("; ".join(problems), source=source, rule="wiring settings")
    ldaps_networks = None if opts["ldaps_client_networks"] is None else [
        _network(n) for n in opts["ldaps_client_networks"]]
    relays = [_network(n) for n in opts["trusted_relays"] or []]
    lay = layout(groups, addresses, source=source)
    # docs/monitoring.md: the monitoring host mails its alerts through the first mailbox server's
    # port 25, as a relay of the province's own (its address joins the trusted relays).
    monitor = next(iter(lay.groups["monitoring_servers"]), None)
    if monitor and not lay.local(monitor, "mail_servers"):
        own = lay.addresses[monitor]
        relays.append(own + ("/128" if ":" in own else "/32"))
    primary = policy["domains"]["primary"]
    domains = [primary, *policy["domains"].get("extra", [])]
    signing = sending_domains(policy, catalogue)
    base = base_dn(primary)
    forward = list(policy.get("forwarding", {}).get("allowed_domains") or [*domains, "*.gov.vn"])
    admin_networks = list(opts["admin_networks"] or [])
    webui = bool(admin_networks)
    quota_personal = int(policy["derived"]["quota_bytes"].get("personal") or 0)
    classified = policy.get("classified") or {}
    replies = refusal_replies(policy)
    filter_host = lay.first("filter_servers")
    mail_host = lay.first("mail_servers")
    # Where the webmail and the SRV records send mail clients: the front where there is one.
    client_host = next(iter(lay.groups["front_servers"]), mail_host)
    front = _front(lay) if lay.groups["front_servers"] else {}
    proxied = _proxied(lay)
    webmail_name = policy["webmail"]["host"]
    place = place_vi(policy)  # "tỉnh Gia Lai"
    system_name = f"Hệ thống thư điện tử công vụ {place}"
    retention = int(policy["logs"]["retention"] or 90)
    # Hà Giang Art 10.2.d: weekly, Friday at the end of the working day; others nightly (backup:).
    backup = backup_schedule(policy)
    backup_server = next(iter(lay.groups["backup_servers"]), None)

    # The public holidays of the years the operator confirmed (the hosts have no calendar package).
    calendar = public_calendar((policy.get("calendar") or {}).get("confirmed_years") or ())
    dns = _dns(policy, lay, domains, signing, dict(opts["public_addresses"] or {}))
    org_domains = organisation_domains(policy, catalogue)
    alias_login_until = policy["domains"].get("alias_login_until") or ""
    out: dict[str, dict[str, Any]] = {}
    for host in lay.hosts:
        rules, required = _peer_rules(lay, host, ldaps_networks)
        admin_ports = []
        if lay.local(host, "filter_servers") and webui:
            admin_ports.append(f"{int(opts['webui_port'])}/tcp")
        peers = [h for h in lay.hosts if h != host and h in lay.addresses]
        ldap_uri, ldap_tls = _ldap(lay, host)
        v: dict[str, Any] = {
            "congvu_groups": lay.groups_of(host),
            # The DNS records the province publishes (playbooks/site.yml writes them; docs/dns.md).
            "congvu_dns": dns,
            # --- common ---
            "common_firewall_rules": rules,
            "common_firewall_required": required,
            "common_firewall_admin_ports": admin_ports,
            "common_hosts_peers": [{"address": lay.addresses[h], "names": [h, h.split(".")[0]]}
                                   for h in peers],
            "common_tls_san_names": _san_names(policy, lay, host, domains),
            # ACME HTTP-01 (common_tls_mode: acme): nginx answers port 80 on a webmail host, so the
            # challenge files go where it serves them; elsewhere certbot listens on port 80 itself.
            "common_tls_acme_webroot": ACME_WEBROOT if lay.local(host, "webmail_servers") else "",
            # Gia Lai Art 7.2: mail logs kept 3 months (logs.retention, days).
            "common_mail_log_retention_days": retention,
            "common_journal_retention_days": retention,
            # --- openldap ---
            "openldap_domain": primary,
            "openldap_domains": domains,
            "openldap_password_policies": _password_policies(policy),
            # Gia Lai Art 4, 5.2: an agency's admins give addresses in its own subdomain only.
            "openldap_organisation_domains": org_domains,
            **_replication(lay, host),
            # --- postfix ---
            "postfix_hostname": host,
            "postfix_domains": domains,
            "postfix_ldap_base_dn": base,
            "postfix_ldap_uri": ldap_uri,
            "postfix_ldap_start_tls": ldap_tls,
            # Attachment limit plus MIME overhead (Hà Nam Art 8.1.b: 20 MB attachments).
            "postfix_message_size_limit": int(policy["derived"]["message_size_limit"]),
            # Hà Nam Art 4.5, Ninh Bình Art 12.5: where a Sieve redirect may go.
            "postfix_forward_allowed_domains": forward,
            # what a refused redirect is told, citing this province's article alone (congvu.replies)
            "postfix_forward_refusal": replies["forward"],
            "postfix_milters": [f"inet:{'127.0.0.1' if host == filter_host else filter_host}:"
                                f"{SERVICES['rspamd_milter'].port}"],
            # RFC 5321 §4.5.1, RFC 2142: postmaster@ and abuse@ of every domain mail is received for.
            "postfix_postmaster_address": f"postmaster@{primary}",
            "postfix_postmaster_domains": signing,
            # Port 25 takes mail claiming the province only from these relays (docs/security.md).
            "postfix_trusted_relays": relays,
            # Issue 18: the system's own notices name the province (bounces, quota warnings).
            "postfix_notice_system_name": system_name,
            # --- dovecot ---
            "dovecot_hostname": host,
            "dovecot_domain": primary,
            "dovecot_ldap_base_dn": base,
            "dovecot_ldap_uri": ldap_uri,
            "dovecot_ldap_start_tls": ldap_tls,
            # Hà Nam Art 8.1.b: at least 2 GB per personal mailbox (per-account quotas live in LDAP).
            "dovecot_quota_default": quota_personal,
            # Gia Lai Art 7.3.d: warning mail into the mailbox when nearly full.
            "dovecot_quota_warning_thresholds": list(policy["quota"].get("warning_percent") or [90, 95]),
            "dovecot_quota_warning_from_name": system_name,
            # Cần Thơ Art 11.3: inbox and sent mail of organisation mailboxes are not deleted.
            "dovecot_lazy_expunge_org_mailboxes":
                (policy.get("retention") or {}).get("organisation_delete", "allow") != "allow",
            # Hà Nam Art 10.7, Gia Lai Art 8.3.a (standby capacity): two mailbox servers replicate.
            "dovecot_replica": _mail_replica(lay, host),
            # the port the firewall opens to the other mailbox server (SERVICES) is the one it listens on
            "dovecot_doveadm_port": SERVICES["doveadm"].port,
            # docs/topology.md, "The front": the proxied listeners and who may use them.
            # Issue 16 (docs/restructuring.md): until this date an account's aliases log in as well.
            "dovecot_alias_login_until": alias_login_until,
            "dovecot_proxy_networks": proxied["dovecot_proxy_networks"],
            "dovecot_proxy_ports": proxied["dovecot_proxy_ports"],
            "postfix_proxy_ports": proxied["postfix_proxy_ports"],
            # --- rspamd ---
            # Gia Lai Art 4.1: every sending domain, agency and commune subdomains included, is signed.
            "rspamd_domains": signing,
            "rspamd_milter_binds": _milter_binds(lay, host),
            "rspamd_trusted_relays": relays,
            "rspamd_webui_enabled": webui,
            "rspamd_webui_allowed_networks": admin_networks,
            # Ninh Bình Art 11.6 / Art 2.7: executables refused (the policy lists them with a dot).
            "rspamd_blocked_extensions": [e.lstrip(".") for e in policy["attachments"]["blocked_extensions"]],
            "rspamd_encrypted_archive_action":
                _ENCRYPTED[policy["attachments"].get("encrypted_archives") or "flag"],
            # Hà Giang Art 3.4: mail bearing a classification stamp (MẬT, TỐI MẬT, TUYỆT MẬT).
            "rspamd_classified_action": classified.get("action") or "hold",
            "rspamd_classified_stamps": list(classified.get("stamps") or ["MẬT", "TỐI MẬT", "TUYỆT MẬT"]),
            # the refusals' replies cite the article of this province's regulation, or none
            "rspamd_executable_reject_message": replies["executable"],
            "rspamd_encrypted_archive_message": replies["encrypted_archive"],
            "rspamd_classified_message": replies["classified"],
            # --- roundcube ---
            "roundcube_server_name": webmail_name,
            # Issue 18: the login page and title bar name the province; its support link mails the
            # postmaster (RFC 2142's contact for the mail system).
            "roundcube_product_name": f"Thư điện tử công vụ {place}",
            "roundcube_support_url": f"mailto:postmaster@{primary}",
            "roundcube_server_aliases": [host] if host != webmail_name else [],
            "roundcube_acme_webroot": ACME_WEBROOT,
            "roundcube_username_domain": primary,
            "roundcube_alias_login_until": alias_login_until,
            # The front where there is one: the webmail follows it to the mailbox server that answers.
            "roundcube_imap_host": client_host,
            "roundcube_smtp_host": client_host,
            "roundcube_managesieve_host": client_host,
            "roundcube_ldap_uri": _ldap_uris(lay),
            "roundcube_ldap_base_dn": base,
            # Hà Nam Art 4.5, Ninh Bình Art 12.5: the webmail forms take plain domains.
            "roundcube_forward_allowed_domains": list(dict.fromkeys(d.removeprefix("*.") for d in forward)),
            "roundcube_password_policy": dict(policy["passwords"]["user"]),
            # --- backup --- (docs/backup.md): what this host holds, on the policy's schedule.
            "backup_contents": _backup_contents(lay, host),
            "backup_on_calendar": backup["on_calendar"],
            "backup_keep_within_days": backup["keep_within_days"],
            "backup_keep_last": backup["keep_last"],
            # docs/backup.md, "Backup server": the repository on the backup server, where there is one.
            "backup_remote": backup_remote(backup_server, host),
            # --- backup_server --- the account and directories the clients' backup_remote names.
            "backup_server_user": SERVER_USER,
            "backup_server_home": SERVER_HOME,
            "backup_server_root": SERVER_ROOT,
            "backup_server_clients": (backup_clients(backup_server, lay.hosts)
                                      if host == backup_server else []),
        }
        if lay.local(host, "front_servers"):
            v.update(front)
        # --- exporters / prometheus / alertmanager --- (docs/monitoring.md)
        v.update(_monitoring(policy, lay, host, monitor, mail_host, system_name))
        if lay.local(host, "mail_servers"):
            # --- lifecycle --- (docs/lifecycle.md): one run per province, on the first mail host, where
            # the mailboxes to archive and the mail logs it reads activity from are; every other mail
            # host runs the replica's part (its own logs' activity, its copies of retired mailboxes).
            v.update({
                "lifecycle_enabled": True,
                "lifecycle_replica": host != mail_host,
                "lifecycle_policy": dict(policy),
                "lifecycle_calendar_public": calendar,
                "lifecycle_ldap_uri": ldap_uri,
                "lifecycle_ldap_start_tls": ldap_tls,
                "lifecycle_ldap_base_dn": base,
            })
        out[host] = v
    return out


#: What each group's hosts hold that a backup must carry (the backup role's ``backup_contents``).
BACKUP_CONTENTS = {
    "ldap_servers": ("directory", "lifecycle"),  # lifecycle: /var/lib/congvu, the roster apply's audit log
    "mail_servers": ("mailboxes", "lifecycle"),
    "filter_servers": ("dkim", "rspamd"),
    "webmail_servers": ("webmail",),
}


def _backup_contents(lay: Layout, host: str) -> list[str]:
    """The kinds of data ``host`` holds, in a fixed order; every host keeps its TLS key and /etc."""
    kinds = ["system"]
    for group, held in BACKUP_CONTENTS.items():
        if lay.local(host, group):
            kinds.extend(k for k in held if k not in kinds)
    return kinds


def _dns(policy: Mapping[str, Any], lay: Layout, domains: list[str], signing: list[str],
         public: Mapping[str, Any]) -> dict[str, Any]:
    """What the DNS records are made of: every sending domain with its MX hosts, and the public names
    with the address of the host behind each (None where the inventory gives no public address)."""
    mail_hosts = list(lay.groups["mail_servers"])
    names: dict[str, dict[str, Any]] = {}
    for host in mail_hosts:
        names[host] = {"address": _address(public.get(host)),
                       "why": "mail server: MX target, HELO name, IMAP/POP3/submission (docs/topology.md)"}
    for host in lay.groups["front_servers"]:
        names.setdefault(host, {"address": _address(public.get(host)),
                                "why": "front for mail clients: IMAP, POP3, submission, ManageSieve, "
                                       "SRV target (docs/topology.md)"})
    webmail = lay.first("webmail_servers")
    for name in dict.fromkeys(_webmail_names(policy, domains)):
        names.setdefault(name, {"address": _address(public.get(webmail)),
                                "why": f"webmail ({webmail})"})
    ldap = lay.first("ldap_servers")
    for name in [f"ldap.{d}" for d in domains]:
        names.setdefault(name, {"address": _address(public.get(ldap)),
                                "why": f"directory, LDAPS for SSO clients ({ldap})"})
    return {"domains": signing, "mail_hosts": mail_hosts, "names": names,
            # RFC 6186 SRV records name the front where there is one, else the first mailbox server.
            "client_host": next(iter(lay.groups["front_servers"]), mail_hosts[0]),
            "report_address": f"postmaster@{policy['domains']['primary']}"}


def _milter_binds(lay: Layout, host: str) -> list[str]:
    """Where Rspamd's milter listens on a filter host: loopback for a local Postfix, the host's own
    address when a mail server elsewhere calls it (the firewall opens it to those servers only)."""
    if not lay.local(host, "filter_servers"):
        return []
    port = SERVICES["rspamd_milter"].port
    binds = []
    if lay.local(host, "mail_servers"):
        binds.append(f"127.0.0.1:{port}")
    if any(h != host for h in lay.groups["mail_servers"]):
        address = lay.addresses[host]
        binds.append(f"[{address}]:{port}" if ":" in address else f"{address}:{port}")
    return binds
