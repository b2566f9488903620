"""The seven guarantees on FIT IoT-LAB (its API emulator over HTTP)."""

from bedform.conformance.suite import *  # noqa: F403
