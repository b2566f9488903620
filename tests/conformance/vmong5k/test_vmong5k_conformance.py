"""The seven guarantees on VMonG5k (the Grid'5000 box: VMs answer SSH)."""

from bedform.conformance.suite import *  # noqa: F403
