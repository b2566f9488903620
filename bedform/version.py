"""The version of bedform, written into saved plans and JSON documents."""

__version__ = "0.1.0"
