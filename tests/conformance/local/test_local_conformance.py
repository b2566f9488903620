"""The seven guarantees on the local provider: real namespaces, bridges, veths, sshd."""

import pytest

from bedform.conformance.suite import *  # noqa: F403

pytestmark = pytest.mark.root
