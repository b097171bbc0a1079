# congvu-mail: the staging and CI containers' connection (docs/staging.md, "How Ansible reaches the
# containers"). containers.podman.podman runs every task as four `podman exec` calls (make a
# temporary directory, make the module executable, run it, remove the directory), because it does
# not pass the module on standard input. `podman exec -i` does, so this subclass turns Ansible's
# pipelining on: one `podman exec` per task. Files (template, copy) still go through the
# container's mounted filesystem as before.
"""Podman connection with pipelining (one podman exec per module run)."""

from __future__ import annotations

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import (
    Connection as PodmanConnection,
)

DOCUMENTATION = """
    name: podman_pipelined
    short_description: containers.podman.podman with Ansible pipelining
    description:
        - Runs commands in an existing podman container like C(containers.podman.podman), passing
          the module on standard input (C(podman exec -i)) so that a task costs one C(podman exec).
    options:
      remote_addr:
        description: The name or ID of the container.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: User the commands run as inside the container.
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments for the podman command line.
        default: ''
        ini:
          - section: defaults
            key: podman_extra_args
        vars:
          - name: ansible_podman_extra_args
        env:
          - name: ANSIBLE_PODMAN_EXTRA_ARGS
      podman_executable:
        description: The podman executable.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
      pipelining:
        description: Pass modules on standard input instead of copying them into the container.
        type: boolean
        default: true
        ini:
          - section: connection
            key: pipelining
        env:
          - name: ANSIBLE_PIPELINING
        vars:
          - name: ansible_pipelining
"""


class Connection(PodmanConnection):
    """containers.podman.podman, with standard input attached when Ansible sends data."""

    transport = "podman_pipelined"
    has_pipelining = True

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        if in_data is None:
            return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        # Skip the parent's exec_command (it would not attach stdin); keep ConnectionBase's checks.
        super(PodmanConnection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec", "-i"]
        if self.user:
            args.extend(("--user", self.user))
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
