"""The seven guarantees on Chameleon bare metal (the emulator's Blazar over HTTP)."""

from bedform.conformance.suite import *  # noqa: F403
