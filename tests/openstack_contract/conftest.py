"""The emulator and the real fixture, side by side."""

from bedform.emulators.openstack.testing import openstack_emulator_factory  # noqa: F401
from tests.openstack_real.fixture import openstack_real  # noqa: F401
