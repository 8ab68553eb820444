"""Scorers turn a request into a number; `Thresholds` (data) turn the number into a tier."""

from tiered.scoring.base import Scorer, Thresholds

__all__ = ["Scorer", "Thresholds"]
