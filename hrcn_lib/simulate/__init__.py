"""LCID-sim: synthetic raw HST exposures (ACS/WFC, WFC3/UVIS) written in the true raw layout.

See :mod:`hrcn_lib.simulate.rawfile` for the raw-file writer.
"""
