"""Chameleon KVM plugs into the conformance suite through the emulator's Chameleon site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bedform.emulators.openstack.testing import openstack_emulator_factory  # noqa: F401
from tests.conformance.openstack.harness import OpenstackHarness, Size


class ChameleonKvmHarness(OpenstackHarness):
    """The OpenStack harness with `type: chameleonkvm` and its defaults (image
    CC-Ubuntu18.04, user cc) on flavour m1.small (the CC images' minimum disk is 10 GB);
    the change is the clients' image (CC-Ubuntu22.04)."""

    name = "chameleonkvm"

    def stack_document(self, name: str, size: Size, changed: bool = False,
                       slow: bool = False) -> dict[str, Any]:
        document = super().stack_document(name, size, changed, slow)
        section = document["providers"]["os"]
        section["type"] = "chameleonkvm"
        for key in ("image", "user"):
            section.pop(key)
        for machine in section["resources"]["machines"]:  # CC images need a 10 GB disk
            machine["flavour"] = "m1.small"
        clients = section["resources"]["machines"][1]
        clients.pop("image")
        if changed:
            clients["image"] = "CC-Ubuntu22.04"
        return document


@pytest.fixture
def conformance_harness(openstack_emulator_factory, tmp_path: Path  # noqa: F811
                        ) -> ChameleonKvmHarness:
    return ChameleonKvmHarness(openstack_emulator_factory(build_seconds=0.0, chameleon=True),
                               tmp_path)
