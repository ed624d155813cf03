"""hrcn_lib: the library behind the HR-CelestialNet paper companion (Zhang et al. 2023)."""

__version__ = "0.1.0"
