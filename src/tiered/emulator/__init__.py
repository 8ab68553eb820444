"""A local Anthropic Messages API for tests and benchmarks: deterministic answers, seeded faults.

Serve it with `tiered emulator --port N`, or in tests with `tiered.emulator.testing.running_emulator`.
"""

from tiered.emulator.app import Emulator
from tiered.emulator.config import Behaviour, EmulatorConfig, ReplayConfig

__all__ = ["Behaviour", "Emulator", "EmulatorConfig", "ReplayConfig"]
