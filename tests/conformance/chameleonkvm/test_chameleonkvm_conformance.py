"""The seven guarantees on Chameleon KVM (the emulator over HTTP)."""

from bedform.conformance.suite import *  # noqa: F403
