"""Primary and SCI header keywords of a simulated raw file: the full keyword set of real
ACS/WFC and WFC3/UVIS ``*_raw.fits`` files, in their order and sections.

The keyword list follows the raw files in the HST archive (the union of raw
primary-header keywords of the archive, and the section layout of real
ACS/WFC3 headers: data description, target, proposal, exposure, pointing,
instrument configuration, calibration switches, reference files, CR-rejection,
pattern, post-flash, engineering, calibrated engineering, association keywords)
and the keywords the calibration pipelines read (hstcal ``getacskeys.c`` and
``wfc3/lib/getkeys.c``: EXPSTART, EXPEND, CCDOFSTA-D, FLASHDUR/FLASHSTA, the
switches and reference files). Values:

* times come from the exposure's date: ``EXPSTART``/``EXPEND`` (MJD),
  ``DATE-OBS``/``TIME-OBS`` (UT), ``DARKTIME`` (exposure + readout), ``DATE``
  (file written the next day) -- all derived, so files stay byte-identical;
* calibration switches are those of a raw file (``PERFORM``/``OMIT``); the
  "calibrated engineering parameters" (ATODGN*, READNSE*, BIASLEV*) are 0 in raw
  files (calacs/calwf3 fill them);
* reference-file names follow the CRDS pattern (``jref$`` / ``iref$``, 8
  characters + the instrument letter + a type suffix), one delivery every 180 days
  before the exposure: **they name no real reference file** (LCID-sim is simulated).
"""

from __future__ import annotations

import math
from typing import Any

from astropy.io import fits
from astropy.time import Time

from hrcn_lib.instruments import Detector, detector
from hrcn_lib.simulate.exposures import base36

__all__ = ["primary_header", "sci_extras", "ACS_WHEEL1", "READOUT_S"]

#: ACS filters mounted on filter wheel 1 (the others are on wheel 2).
ACS_WHEEL1 = frozenset({"F475W", "F502N", "F550M", "F555W", "F606W", "F625W", "F658N", "F775W",
                        "F850LP", "F892N"})
#: Full-frame readout time (s) added to EXPTIME for DARKTIME.
READOUT_S = {"ACS/WFC": 3.0, "WFC3/UVIS": 2.5}
_ACS_REF = (("BPIXTAB", "bpx"), ("CCDTAB", "ccd"), ("ATODTAB", "a2d"), ("OSCNTAB", "osc"),
            ("BIASFILE", "bia"), ("FLSHFILE", "fls"), ("CRREJTAB", "crr"), ("SHADFILE", "shd"),
            ("PCTETAB", "cte"), ("DRKCFILE", "dkc"), ("DARKFILE", "drk"), ("PFLTFILE", "pfl"),
            ("DFLTFILE", "dfl"), ("LFLTFILE", "lfl"), ("PHOTTAB", "pht"), ("GRAPHTAB", "tmg"),
            ("COMPTAB", "tmc"), ("IDCTAB", "idc"), ("DGEOFILE", "dxy"), ("MDRIZTAB", "mdz"),
            ("CFLTFILE", "cfl"), ("SPOTTAB", "csp"), ("IMPHTTAB", "imp"), ("D2IMFILE", "d2i"),
            ("NPOLFILE", "npl"), ("SNKCFILE", "snk"))
_WFC3_REF = (("BPIXTAB", "bpx"), ("CCDTAB", "ccd"), ("ATODTAB", "a2d"), ("OSCNTAB", "osc"),
             ("BIASFILE", "bia"), ("FLSHFILE", "fls"), ("CRREJTAB", "crr"), ("SHADFILE", "shd"),
             ("DARKFILE", "drk"), ("PFLTFILE", "pfl"), ("DFLTFILE", "dfl"), ("LFLTFILE", "lfl"),
             ("PHOTTAB", "pht"), ("GRAPHTAB", "tmg"), ("COMPTAB", "tmc"), ("IDCTAB", "idc"),
             ("DGEOFILE", "dxy"), ("MDRIZTAB", "mdz"), ("IMPHTTAB", "imp"), ("D2IMFILE", "d2i"),
             ("NPOLFILE", "npl"), ("PCTETAB", "cte"), ("DRKCFILE", "dkc"), ("BIACFILE", "bic"),
             ("SNKCFILE", "snk"))
_NOT_USED = {"FLSHFILE", "SHADFILE", "CFLTFILE", "SPOTTAB", "LFLTFILE", "DFLTFILE", "PHOTTAB",
             "ATODTAB"}


def _reference(instrument: str, mjd: float, kind: int, suffix: str) -> str:
    """A CRDS-pattern reference-file name delivered before ``mjd`` (not a real file)."""
    delivery = int(mjd // 180) * 180
    letter, ref = ("j", "jref$") if instrument == "ACS/WFC" else ("i", "iref$")
    code = base36((delivery * 977 + kind * 7919) % 36**8, 8)
    return f"{ref}{code}{letter}_{suffix}.fits"


def _ut(mjd: float) -> tuple[str, str]:
    t = Time(mjd, format="mjd", scale="utc")
    iso = t.to_value("iso", subfmt="date_hms")
    return iso[:10], iso[11:19]


def primary_header(instrument: str, *, rootname: str, targname: str, ra_targ: float,
                   dec_targ: float, filt: str, exptime: float, mjd: float, roll: float,
                   proposid: int, sun: float, moon: float, filename: str) -> fits.Header:
    """The primary header of a raw file (keywords after the FITS mandatory ones).

    Args:
        instrument: ``"ACS/WFC"`` or ``"WFC3/UVIS"``.
        rootname, targname, ra_targ, dec_targ: identity and target (deg).
        filt: filter name (ACS: placed on its wheel, the other wheel CLEAR).
        exptime: s.
        mjd: EXPSTART.
        roll: degrees (ORIENTAT of the chips; PA_V3 follows from it).
        proposid: proposal number.
        sun, moon: degrees between the target and the Sun / Moon.
        filename: ``<rootname>_raw.fits``.

    Returns:
        ``astropy.io.fits.Header`` with section-title cards (blank keyword).
    """
    det = detector(instrument)
    acs = instrument == "ACS/WFC"
    date_obs, time_obs = _ut(mjd)
    written, _ = _ut(mjd + 1.0)
    c = _Cards()
    c.card("NEXTEND", 6, "Number of standard extensions")
    c.card("DATE", written, "date this file was written (yyyy-mm-dd)")
    c.card("FILENAME", filename, "name of file")
    c.card("FILETYPE", "SCI", "type of data found in data file")
    c.card("TELESCOP", "HST", "telescope used to acquire data")
    c.card("INSTRUME", det.instrume, "identifier for instrument used to acquire data")
    c.card("EQUINOX", 2000.0, "equinox of celestial coord. system")
    c.sec("DATA DESCRIPTION KEYWORDS")
    c.card("ROOTNAME", rootname, "rootname of the observation set")
    c.card("IMAGETYP", "EXT", "type of exposure identifier")
    c.card("PRIMESI", det.instrume, "instrument designated as prime")
    c.sec("TARGET INFORMATION")
    c.card("TARGNAME", targname, "proposer's target name")
    c.card("RA_TARG", float(round(ra_targ, 10)), "right ascension of the target (deg) (J2000)")
    c.card("DEC_TARG", float(round(dec_targ, 10)), "declination of the target (deg) (J2000)")
    _proposal_cards(c, rootname, proposid)
    _exposure_cards(c, instrument, exptime=exptime, mjd=mjd, sun=sun, moon=moon,
                    date_obs=date_obs, time_obs=time_obs)
    c.sec("POINTING INFORMATION")
    c.card("PA_V3", float(round((roll + (86.5 if acs else 44.8)) % 360.0, 6)),
           "position angle of V3-axis of HST (deg)")
    c.sec("TARGET OFFSETS (POSTARGS)")
    c.card("POSTARG1", 0.0, "POSTARG in axis 1 direction")
    c.card("POSTARG2", 0.0, "POSTARG in axis 2 direction")
    c.sec("DIAGNOSTIC KEYWORDS")
    c.card("OPUS_VER", "HSTDP 2018_3", "data processing software system version")
    c.card("CSYS_VER", "", "Calibration software system version id")
    c.card("CAL_VER", "", f"CAL{'ACS' if acs else 'WF3'} code version")
    c.card("PROCTIME", float(round(mjd + 1.0, 8)), "Pipeline processing time (MJD)")
    _configuration_cards(c, det, filt)
    _calibration_cards(c, instrument, mjd)
    _engineering_cards(c, acs)
    c.sec("ASSOCIATION KEYWORDS")
    c.card("ASN_ID", "NONE", "unique identifier assigned to association")
    c.card("ASN_TAB", "NONE", "name of the association table")
    c.card("ASN_MTYP", "", "Role of the Member in the Association")
    return c.header


class _Cards:
    """A raw primary header being written card by card, with section-title cards."""

    def __init__(self) -> None:
        self.header = fits.Header()

    def sec(self, title: str) -> None:
        """A section title: blank, ``/ title``, blank (blank keywords)."""
        self.header.append(("", ""), end=True)
        self.header.append(("", f"/ {title}"), end=True)
        self.header.append(("", ""), end=True)

    def card(self, key: str, value: Any, comment: str = "") -> None:
        """One keyword card, appended."""
        self.header.append((key, value, comment), end=True)


def _proposal_cards(c: _Cards, rootname: str, proposid: int) -> None:
    """PROPOSAL INFORMATION: the proposal and its logsheet line (from the rootname)."""
    c.sec("PROPOSAL INFORMATION")
    c.card("PROPOSID", proposid, "PEP proposal identifier")
    c.card("LINENUM", f"{rootname[4:6].upper()}.{int(rootname[6:8], 36) % 1000:03d}",
         "proposal logsheet line number")
    c.card("PR_INV_L", "LCID-SIM", "last name of principal investigator")
    c.card("PR_INV_F", "SIMULATED", "first name of principal investigator")
    c.card("PR_INV_M", "", "middle name / initial of principal investigat")


def _exposure_cards(c: _Cards, instrument: str, *, exptime: float, mjd: float, sun: float,
                    moon: float, date_obs: str, time_obs: str) -> None:
    """EXPOSURE INFORMATION: angles to Sun and Moon, guiding, start/end (MJD), exposure and
    dark time (s)."""
    expend = mjd + (exptime + 0.2) / 86400.0
    c.sec("EXPOSURE INFORMATION")
    c.card("SUNANGLE", float(round(sun, 6)), "angle between sun and V1 axis")
    c.card("MOONANGL", float(round(moon, 6)), "angle between moon and V1 axis")
    c.card("SUN_ALT", float(round(40.0 * math.sin(math.radians(sun * 3.1)), 6)),
         "altitude of the sun above Earth's limb")
    c.card("FGSLOCK", "FINE", "commanded FGS lock (FINE,COARSE,GYROS,UNKNOWN)")
    c.card("GYROMODE", "T", "number of gyros scheduled, T=3+OBAD")
    c.card("REFFRAME", "ICRS", "guide star catalog version")
    c.card("MTFLAG", "", "moving target flag; T if it is a moving target")
    c.card("DATE-OBS", date_obs, "UT date of start of observation (yyyy-mm-dd)")
    c.card("TIME-OBS", time_obs, "UT time of start of observation (hh:mm:ss)")
    c.card("EXPSTART", float(round(mjd, 8)), "exposure start time (Modified Julian Date)")
    c.card("EXPEND", float(round(expend, 8)), "exposure end time (Modified Julian Date)")
    c.card("EXPTIME", float(exptime), "exposure duration (seconds)--calculated")
    c.card("TEXPTIME", float(exptime), "total exposure time (seconds)")
    c.card("EXPFLAG", "NORMAL", "Exposure interruption indicator")
    c.card("QUALCOM1", "", "data quality comment 1")
    c.card("QUALCOM2", "", "data quality comment 2")
    c.card("QUALCOM3", "", "data quality comment 3")
    c.card("QUALITY", "", "data quality summary")
    c.card("DARKTIME", float(round(exptime + READOUT_S[instrument], 6)),
         "estimated dark time (seconds)")


def _configuration_cards(c: _Cards, det: Detector, filt: str) -> None:
    """SCIENCE INSTRUMENT CONFIGURATION: mode, detector, filter wheel(s), aperture."""
    acs = det.instrument == "ACS/WFC"
    c.sec("SCIENCE INSTRUMENT CONFIGURATION")
    c.card("OBSTYPE", "IMAGING", "observation type - imaging or spectroscopic")
    c.card("OBSMODE", "ACCUM", "operating mode")
    c.card("CTEIMAGE", "NONE", "type of Charge Transfer Image, if applicable")
    c.card("SCLAMP", "NONE", "lamp status, NONE or name of lamp which is on")
    c.card("NRPTEXP", 1, "number of repeat exposures in set: default 1")
    c.card("SUBARRAY", False, "data from a subarray (T) or full frame (F)")
    c.card("DETECTOR", det.detector, f"detector in use: {'WFC, HRC, or SBC' if acs else 'UVIS or IR'}")
    if acs:
        wheel1 = filt in ACS_WHEEL1
        c.card("FILTER1", filt if wheel1 else "CLEAR1L", "element selected from filter wheel 1")
        c.card("FW1OFFST", 0, "computed filter wheel offset")
        c.card("FW1ERROR", False, "filter wheel position error flag")
        c.card("FILTER2", "CLEAR2L" if wheel1 else filt, "element selected from filter wheel 2")
        c.card("FW2OFFST", 0, "computed filter wheel offset")
        c.card("FW2ERROR", False, "filter wheel position error flag")
        c.card("FWSOFFST", 0, "computed filter wheel offset")
        c.card("FWSERROR", False, "filter wheel position error flag")
        c.card("LRFWAVE", 0.0, "proposed linear ramp filter wavelength")
    else:
        c.card("FILTER", filt, "element selected from filter wheel")
    c.card("APERTURE", "WFC" if acs else "UVIS", "aperture name")
    c.card("PROPAPER", "WFC" if acs else "UVIS", "proposed aperture name")
    c.card("DIRIMAGE", "NONE", "direct image for grism or prism exposure")
    c.card("CTEDIR", "NONE", "CTE measurement direction: serial or parallel")
    c.card("CRSPLIT", 1, "number of cosmic ray split exposures")


def _calibration_cards(c: _Cards, instrument: str, mjd: float) -> None:
    """Calibration switches, reference files (dated by ``mjd``), CR-rejection, OTFR and
    pattern keywords."""
    acs = instrument == "ACS/WFC"
    c.sec("CALIBRATION SWITCHES: PERFORM, OMIT, COMPLETE")
    c.card("STATFLAG", True, "Calculate statistics?")
    c.card("WRTERR", True, "write out error array extension")
    switches = (("DQICORR", "PERFORM"), ("ATODCORR", "OMIT"), ("BLEVCORR", "PERFORM"),
                ("BIASCORR", "PERFORM"), ("FLSHCORR", "OMIT"), ("CRCORR", "OMIT"),
                ("EXPSCORR", "PERFORM"), ("SHADCORR", "OMIT"), ("PCTECORR", "PERFORM"),
                ("DARKCORR", "PERFORM"), ("FLATCORR", "PERFORM"), ("PHOTCORR", "PERFORM"),
                ("RPTCORR", "OMIT"), ("DRIZCORR", "PERFORM"))
    if acs:
        switches += (("GLINCORR", "OMIT"), ("LFLGCORR", "OMIT"), ("SINKCORR", "PERFORM"))
    else:
        switches += (("FLUXCORR", "PERFORM"),)
    for key, value in switches:
        c.card(key, value, "")
    c.sec("CALIBRATION REFERENCE FILES")
    for k, (key, suffix) in enumerate(_ACS_REF if acs else _WFC3_REF):
        c.card(key, "N/A" if key in _NOT_USED else _reference(instrument, mjd, k, suffix), "")
    c.card("CRDS_CTX", "hst_0592.pmap", "CRDS context file")
    c.card("CRDS_VER", "7.1.5, 7.1.5, 3548bc1", "Version of CRDS used to assign refs")
    c.sec("COSMIC RAY REJECTION ALGORITHM PARAMETERS")
    for key, value in (("MEANEXP", 0.0), ("SCALENSE", 0.0), ("INITGUES", ""), ("SKYSUB", ""),
                       ("SKYSUM", 0.0), ("CRSIGMAS", ""), ("CRRADIUS", 0.0), ("CRTHRESH", 0.0),
                       ("BADINPDQ", 0), ("REJ_RATE", 0.0), ("CRMASK", False)):
        c.card(key, value, "")
    c.sec("OTFR KEYWORDS")
    c.card("T_SGSTAR", "", "OMS calculated guide star control")
    c.sec("PATTERN KEYWORDS")
    for key, value in (("PATTERN1", "NONE"), ("P1_SHAPE", ""), ("P1_PURPS", ""),
                       ("P1_NPTS", 0), ("P1_PSPAC", 0.0), ("P1_LSPAC", 0.0), ("P1_ANGLE", 0.0),
                       ("P1_FRAME", ""), ("P1_ORINT", 0.0), ("P1_CENTR", ""), ("PATTSTEP", 0)):
        c.card(key, value, "")


def _engineering_cards(c: _Cards, acs: bool) -> None:
    """Post-flash, CCD readout (gain, bias offsets, binning) and calibrated amplifier
    keywords."""
    c.sec("POST FLASH  PARAMETERS")
    c.card("FLASHDUR", 0.0, "Exposure time in seconds: 0.1 to 409.5")
    c.card("FLASHCUR", "OFF", "Post flash current (zero, low, medium, high)")
    c.card("FLASHSTA", "NOT PERFORMED", "Status: SUCCESSFUL, ABORTED, NOT PERFORMED")
    c.card("SHUTRPOS", "A", "Shutter position: A or B")
    c.sec("ENGINEERING PARAMETERS")
    c.card("CCDAMP", "ABCD", "CCD amplifier read out configuration")
    c.card("CCDGAIN", 2.0 if acs else 1.5, "commanded gain of CCD")
    offset = 1 if acs else 3
    for amp in "ABCD":
        c.card(f"CCDOFST{amp}", offset, f"commanded CCD bias offset for amplifier {amp}")
    c.card("BINAXIS1", 1, "axis1 data bin size in unbinned detector pixels")
    c.card("BINAXIS2", 1, "axis2 data bin size in unbinned detector pixels")
    if acs:
        c.card("JWROTYPE", "DS_int", "CCD readout mode (DS_int or CLAMP)")
    c.sec("CALIBRATED ENGINEERING PARAMETERS")
    for kind, comment in (("ATODGN", "calibrated gain for amplifier"),
                          ("READNSE", "calibrated read noise for amplifier"),
                          ("BIASLEV", "bias level for amplifier")):
        for amp in "ABCD":
            c.card(f"{kind}{amp}", 0.0, f"{comment} {amp}")


def sci_extras(instrument: str, roll: float, ra_aper: float, dec_aper: float) -> dict:
    """SCI-extension keywords beyond the layout and WCS ones (per chip, same for both)."""
    return {"WCSAXES": 2, "ORIENTAT": float(round(roll, 6)), "RA_APER": float(round(ra_aper, 10)),
            "DEC_APER": float(round(dec_aper, 10)), "PA_APER": float(round(roll, 6)),
            "VAFACTOR": 1.0, "MEANBLEV": 0.0, "MEANDARK": 0.0, "MEANFLSH": 0.0,
            "SDQFLAGS": 31743 if instrument == "ACS/WFC" else 31743, "NGOODPIX": 0}
