"""bedform: plan and apply experiment infrastructure on research testbeds."""

__version__ = "0.1.0"
