"""The seven guarantees on Grid'5000 (its API emulator over HTTP)."""

from bedform.conformance.suite import *  # noqa: F403
