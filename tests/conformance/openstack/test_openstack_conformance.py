"""The seven guarantees on OpenStack (its emulator over HTTP)."""

from bedform.conformance.suite import *  # noqa: F403
