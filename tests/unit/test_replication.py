"""congvu.replication: whether a provider has caught up, and olcSyncrepl compared by parameter
(docs/openldap.md, "Replication")."""

from __future__ import annotations

import pytest

from congvu.replication import csn_behind, sid_of, syncrepl_matches, syncrepl_params

A1 = "20261205103000.123456Z#000000#001#000000"
A1_LATER = "20261205103005.000001Z#000000#001#000000"
B2 = "20261205102000.000000Z#000003#002#000000"


def test_sid_is_the_third_field_and_anything_else_is_refused():
    assert sid_of(B2) == "002"
    with pytest.raises(ValueError, match="not an LDAP change stamp"):
        sid_of("20261205")


def test_caught_up_when_every_peer_sid_is_reached():
    assert csn_behind([A1_LATER, B2], [A1, B2]) == []
    assert csn_behind([A1], [A1, B2]) == [B2], "a server ID never seen is behind"
    assert csn_behind([A1], [A1_LATER]) == [A1_LATER]
    assert csn_behind([], []) == []


SLAPD_FORM = ('{0}rid=001 provider=ldap://ldap2.gialai.gov.vn bindmethod=simple timeout=10 '
              'network-timeout=5 binddn="cn=replicator,ou=services,dc=gialai,dc=gov,dc=vn" '
              'credentials="s3cret" keepalive=240:10:30 starttls=critical '
              'tls_cacert="/etc/ssl/congvu/ca.crt" '
              'tls_reqcert=demand filter="(objectclass=*)" searchbase="dc=gialai,dc=gov,dc=vn" scope=sub '
              'attrs="*,+" schemachecking=off type=refreshAndPersist retry="5 5 60 +" interval=00:00:00:00')
DESIRED = ('rid=001 provider=ldap://ldap2.gialai.gov.vn bindmethod=simple '
           'binddn="cn=replicator,ou=services,dc=gialai,dc=gov,dc=vn" credentials="s3cret" '
           'searchbase="dc=gialai,dc=gov,dc=vn" scope=sub type=refreshAndPersist retry="5 5 60 +" '
           'timeout=10 network-timeout=5 keepalive=240:10:30 starttls=critical '
           'tls_cacert=/etc/ssl/congvu/ca.crt tls_reqcert=demand')


def test_slapd_written_form_matches_what_was_asked():
    assert syncrepl_params(SLAPD_FORM)["retry"] == "5 5 60 +"
    assert syncrepl_matches([SLAPD_FORM], [DESIRED])


def test_a_changed_missing_or_extra_stanza_differs():
    assert not syncrepl_matches([SLAPD_FORM.replace("s3cret", "old")], [DESIRED])
    assert not syncrepl_matches([], [DESIRED])
    assert not syncrepl_matches([SLAPD_FORM, SLAPD_FORM.replace("001", "002")], [DESIRED])


def test_a_value_that_does_not_parse_is_an_error():
    with pytest.raises(ValueError, match="olcSyncrepl"):
        syncrepl_params('rid=001 provider="ldap://x')
    with pytest.raises(ValueError, match="not name=value"):
        syncrepl_params("rid=001 starttls")
