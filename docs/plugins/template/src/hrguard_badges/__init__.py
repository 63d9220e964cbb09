"""hrguard-badges: badge swipes, and a detector for swipes outside working hours."""

__version__ = "0.1.0"
