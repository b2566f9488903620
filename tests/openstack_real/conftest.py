"""Fixtures of the real OpenStack (scripts/openstack-real.sh)."""

from tests.openstack_real.fixture import (  # noqa: F401
    openstack_real,
    openstack_real_blazar,
    real_conn,
)
