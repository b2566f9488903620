"""The seven guarantees on Distem (the Grid'5000 box: vnodes answer SSH)."""

from bedform.conformance.suite import *  # noqa: F403
