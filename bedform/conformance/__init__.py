"""The conformance kit: the seven guarantees of DESIGN.md as one pytest suite that every
provider passes through a small harness (see docs/conformance.md).

It drives the public CLI only (`bedform -c stack.yaml plan|apply|destroy|show`), so it
sits at the top layer, beside `cli.py`; nothing below imports it.
"""

from bedform.conformance.harness import Breakage, EmulatorControl, Harness, InputChange, Size
from bedform.conformance.stack import CliRun, ConformanceStack

__all__ = ["Breakage", "CliRun", "ConformanceStack", "EmulatorControl", "Harness",
           "InputChange", "Size"]
