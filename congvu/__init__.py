"""congvu: the policy engine of congvu-mail.

Plain Python with no Ansible import: province regulations as data, Vietnamese name folding,
address naming, sizes and quotas, passwords and working days. Ansible filter plugins and
modules are thin wrappers around this package.
"""

__version__ = "0.1.0"
