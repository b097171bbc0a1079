"""connection_plugins/podman_pipelined.py: Ansible's pipelining over `podman exec -i` (docs/staging.md,
"How Ansible reaches the containers"). Every layout converge uses it against real containers; this
checks the command lines it builds."""

from __future__ import annotations

import pytest
from source_files import load


@pytest.fixture(scope="module")
def plugin():
    pytest.importorskip("ansible_collections.containers.podman")
    return load("connection_plugins/podman_pipelined.py", "podman_pipelined")


def test_pipelining_is_on_and_documented(plugin):
    assert plugin.Connection.has_pipelining is True
    assert plugin.Connection.transport == "podman_pipelined"
    assert "pipelining:" in plugin.DOCUMENTATION and "default: true" in plugin.DOCUMENTATION


def test_a_module_on_standard_input_goes_through_podman_exec_i(plugin):
    class Recorder(plugin.Connection):
        """Stands in for the container: records what podman would have been asked to run."""

        def __init__(self):  # no play context: only the command line is under test
            self.calls, self.user, self._connected = [], "root", True

        def _podman(self, cmd, cmd_args=None, in_data=None, use_container_id=True):
            self.calls.append((cmd, cmd_args, in_data))
            return 0, b"", b""

    conn = Recorder()
    conn.exec_command("/bin/sh -c '/usr/bin/python3 && sleep 0'", in_data=b"module")
    conn.exec_command("/bin/sh -c 'echo ~'")
    assert conn.calls == [
        (["exec", "-i", "--user", "root"], ["/bin/sh", "-c", "/usr/bin/python3 && sleep 0"], b"module"),
        (["exec", "--user", "root"], ["/bin/sh", "-c", "echo ~"], None),
    ]
