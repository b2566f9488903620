"""The seven guarantees on real Vagrant VMs (`pytest -m vagrant tests/conformance/vagrant`).

Every case makes its own 1-VM stack: about one `vagrant up` (2-3 min under QEMU TCG)
per stack made. scripts/ci-vagrant.sh runs the subset named in docs/vagrant.md."""

import pytest

from bedform.conformance.suite import *  # noqa: F403

pytestmark = pytest.mark.vagrant
