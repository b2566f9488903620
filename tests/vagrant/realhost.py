"""What the real-VM tests need from this machine (root, libvirtd, vagrant, the box).

A test asks `require_real_host(request, marker)`: it skips with the reason when the host is
not set up, unless BEDFORM_REAL_VMS=required (scripts/ci-vagrant.sh sets it), in which
case a missing piece is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from bedform.providers.vagrant import libvirt
from bedform.providers.vagrant.config import DEFAULT_BOX
from bedform.providers.vagrant.driver import box_added

REQUIRED = "BEDFORM_REAL_VMS"


def host_problem(need_vagrant: bool = True, files: Sequence[Path] = ()) -> str:
    """Why real VMs cannot run here ("" when they can); `files` are needed too."""
    if os.geteuid() != 0:
        return "needs root (libvirt qemu:///system)"
    programs = ["virsh", "qemu-img"] + (["vagrant"] if need_vagrant else [])
    for program in programs:
        if shutil.which(program) is None:
            return f"{program} is missing: run sudo bash scripts/vagrant-host.sh"
    done = subprocess.run(["virsh", "-c", libvirt.URI, "version"], capture_output=True,
                          timeout=30, check=False)
    if done.returncode != 0:
        return "libvirtd is not running: run sudo bash scripts/vagrant-host.sh"
    if need_vagrant and not box_added(DEFAULT_BOX):
        return f"box {DEFAULT_BOX} is not added: run sudo bash scripts/vagrant-box.sh"
    for path in files:
        if not path.exists():
            return f"{path} is missing: run sudo bash scripts/vagrant-box.sh"
    return ""


def require_real_host(request: pytest.FixtureRequest, marker: str,
                      need_vagrant: bool = True, files: Sequence[Path] = ()) -> None:
    """Skip (or fail, when required) unless `-m` selects `marker` and the host is ready."""
    required = os.environ.get(REQUIRED) == "required"
    if marker not in (request.config.getoption("markexpr") or ""):
        pytest.skip(f"real-VM test (minutes): select it with `pytest -m {marker}`")
    problem = host_problem(need_vagrant, files)
    if problem and required:
        pytest.fail(f"real-VM test required by {REQUIRED}=required: {problem}")
    if problem:
        pytest.skip(f"real-VM test: {problem}")


def libvirt_inventory() -> dict[str, list[str]]:
    """Every domain, network and default-pool volume libvirt holds."""
    return {"domains": sorted(libvirt.domains()), "networks": sorted(libvirt.networks()),
            "volumes": sorted(libvirt.volumes())}
