"""Local HTTP emulators of testbed APIs.

Each emulator is an independent layer: it imports nothing from the rest of
bedform, so it can run in-process for tests (``with G5kEmulator() as emu``) or
from ``bedform emulate <testbed>`` for offline development.
"""
