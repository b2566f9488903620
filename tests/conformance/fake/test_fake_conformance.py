"""The seven guarantees on the fake cloud."""

from bedform.conformance.suite import *  # noqa: F403
