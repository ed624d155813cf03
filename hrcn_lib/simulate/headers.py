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

from astropy.io import fits
from astropy.time import Time

from hrcn_lib.instruments import detector
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
    expend = mjd + (exptime + 0.2) / 86400.0
    date_obs, time_obs = _ut(mjd)
    written, _ = _ut(mjd + 1.0)
    h = fits.Header()

    def sec(title: str) -> None:
        h.append(("", ""), end=True)
        h.append(("", f"/ {title}"), end=True)
        h.append(("", ""), end=True)

    def card(key: str, value, comment: str = "") -> None:
        h.append((key, value, comment), end=True)

    card("NEXTEND", 6, "Number of standard extensions")
    card("DATE", written, "date this file was written (yyyy-mm-dd)")
    card("FILENAME", filename, "name of file")
    card("FILETYPE", "SCI", "type of data found in data file")
    card("TELESCOP", "HST", "telescope used to acquire data")
    card("INSTRUME", det.instrume, "identifier for instrument used to acquire data")
    card("EQUINOX", 2000.0, "equinox of celestial coord. system")
    sec("DATA DESCRIPTION KEYWORDS")
    card("ROOTNAME", rootname, "rootname of the observation set")
    card("IMAGETYP", "EXT", "type of exposure identifier")
    card("PRIMESI", det.instrume, "instrument designated as prime")
    sec("TARGET INFORMATION")
    card("TARGNAME", targname, "proposer's target name")
    card("RA_TARG", float(round(ra_targ, 10)), "right ascension of the target (deg) (J2000)")
    card("DEC_TARG", float(round(dec_targ, 10)), "declination of the target (deg) (J2000)")
    sec("PROPOSAL INFORMATION")
    card("PROPOSID", proposid, "PEP proposal identifier")
    card("LINENUM", f"{rootname[4:6].upper()}.{int(rootname[6:8], 36) % 1000:03d}",
         "proposal logsheet line number")
    card("PR_INV_L", "LCID-SIM", "last name of principal investigator")
    card("PR_INV_F", "SIMULATED", "first name of principal investigator")
    card("PR_INV_M", "", "middle name / initial of principal investigat")
    sec("EXPOSURE INFORMATION")
    card("SUNANGLE", float(round(sun, 6)), "angle between sun and V1 axis")
    card("MOONANGL", float(round(moon, 6)), "angle between moon and V1 axis")
    card("SUN_ALT", float(round(40.0 * math.sin(math.radians(sun * 3.1)), 6)),
         "altitude of the sun above Earth's limb")
    card("FGSLOCK", "FINE", "commanded FGS lock (FINE,COARSE,GYROS,UNKNOWN)")
    card("GYROMODE", "T", "number of gyros scheduled, T=3+OBAD")
    card("REFFRAME", "ICRS", "guide star catalog version")
    card("MTFLAG", "", "moving target flag; T if it is a moving target")
    card("DATE-OBS", date_obs, "UT date of start of observation (yyyy-mm-dd)")
    card("TIME-OBS", time_obs, "UT time of start of observation (hh:mm:ss)")
    card("EXPSTART", float(round(mjd, 8)), "exposure start time (Modified Julian Date)")
    card("EXPEND", float(round(expend, 8)), "exposure end time (Modified Julian Date)")
    card("EXPTIME", float(exptime), "exposure duration (seconds)--calculated")
    card("TEXPTIME", float(exptime), "total exposure time (seconds)")
    card("EXPFLAG", "NORMAL", "Exposure interruption indicator")
    card("QUALCOM1", "", "data quality comment 1")
    card("QUALCOM2", "", "data quality comment 2")
    card("QUALCOM3", "", "data quality comment 3")
    card("QUALITY", "", "data quality summary")
    card("DARKTIME", float(round(exptime + READOUT_S[instrument], 6)),
         "estimated dark time (seconds)")
    sec("POINTING INFORMATION")
    card("PA_V3", float(round((roll + (86.5 if acs else 44.8)) % 360.0, 6)),
         "position angle of V3-axis of HST (deg)")
    sec("TARGET OFFSETS (POSTARGS)")
    card("POSTARG1", 0.0, "POSTARG in axis 1 direction")
    card("POSTARG2", 0.0, "POSTARG in axis 2 direction")
    sec("DIAGNOSTIC KEYWORDS")
    card("OPUS_VER", "HSTDP 2018_3", "data processing software system version")
    card("CSYS_VER", "", "Calibration software system version id")
    card("CAL_VER", "", f"CAL{'ACS' if acs else 'WF3'} code version")
    card("PROCTIME", float(round(mjd + 1.0, 8)), "Pipeline processing time (MJD)")
    sec("SCIENCE INSTRUMENT CONFIGURATION")
    card("OBSTYPE", "IMAGING", "observation type - imaging or spectroscopic")
    card("OBSMODE", "ACCUM", "operating mode")
    card("CTEIMAGE", "NONE", "type of Charge Transfer Image, if applicable")
    card("SCLAMP", "NONE", "lamp status, NONE or name of lamp which is on")
    card("NRPTEXP", 1, "number of repeat exposures in set: default 1")
    card("SUBARRAY", False, "data from a subarray (T) or full frame (F)")
    card("DETECTOR", det.detector, f"detector in use: {'WFC, HRC, or SBC' if acs else 'UVIS or IR'}")
    if acs:
        wheel1 = filt in ACS_WHEEL1
        card("FILTER1", filt if wheel1 else "CLEAR1L", "element selected from filter wheel 1")
        card("FW1OFFST", 0, "computed filter wheel offset")
        card("FW1ERROR", False, "filter wheel position error flag")
        card("FILTER2", "CLEAR2L" if wheel1 else filt, "element selected from filter wheel 2")
        card("FW2OFFST", 0, "computed filter wheel offset")
        card("FW2ERROR", False, "filter wheel position error flag")
        card("FWSOFFST", 0, "computed filter wheel offset")
        card("FWSERROR", False, "filter wheel position error flag")
        card("LRFWAVE", 0.0, "proposed linear ramp filter wavelength")
    else:
        card("FILTER", filt, "element selected from filter wheel")
    card("APERTURE", "WFC" if acs else "UVIS", "aperture name")
    card("PROPAPER", "WFC" if acs else "UVIS", "proposed aperture name")
    card("DIRIMAGE", "NONE", "direct image for grism or prism exposure")
    card("CTEDIR", "NONE", "CTE measurement direction: serial or parallel")
    card("CRSPLIT", 1, "number of cosmic ray split exposures")
    sec("CALIBRATION SWITCHES: PERFORM, OMIT, COMPLETE")
    card("STATFLAG", True, "Calculate statistics?")
    card("WRTERR", True, "write out error array extension")
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
        card(key, value, "")
    sec("CALIBRATION REFERENCE FILES")
    for k, (key, suffix) in enumerate(_ACS_REF if acs else _WFC3_REF):
        card(key, "N/A" if key in _NOT_USED else _reference(instrument, mjd, k, suffix), "")
    card("CRDS_CTX", "hst_0592.pmap", "CRDS context file")
    card("CRDS_VER", "7.1.5, 7.1.5, 3548bc1", "Version of CRDS used to assign refs")
    sec("COSMIC RAY REJECTION ALGORITHM PARAMETERS")
    for key, value in (("MEANEXP", 0.0), ("SCALENSE", 0.0), ("INITGUES", ""), ("SKYSUB", ""),
                       ("SKYSUM", 0.0), ("CRSIGMAS", ""), ("CRRADIUS", 0.0), ("CRTHRESH", 0.0),
                       ("BADINPDQ", 0), ("REJ_RATE", 0.0), ("CRMASK", False)):
        card(key, value, "")
    sec("OTFR KEYWORDS")
    card("T_SGSTAR", "", "OMS calculated guide star control")
    sec("PATTERN KEYWORDS")
    for key, value in (("PATTERN1", "NONE"), ("P1_SHAPE", ""), ("P1_PURPS", ""),
                       ("P1_NPTS", 0), ("P1_PSPAC", 0.0), ("P1_LSPAC", 0.0), ("P1_ANGLE", 0.0),
                       ("P1_FRAME", ""), ("P1_ORINT", 0.0), ("P1_CENTR", ""), ("PATTSTEP", 0)):
        card(key, value, "")
    sec("POST FLASH  PARAMETERS")
    card("FLASHDUR", 0.0, "Exposure time in seconds: 0.1 to 409.5")
    card("FLASHCUR", "OFF", "Post flash current (zero, low, medium, high)")
    card("FLASHSTA", "NOT PERFORMED", "Status: SUCCESSFUL, ABORTED, NOT PERFORMED")
    card("SHUTRPOS", "A", "Shutter position: A or B")
    sec("ENGINEERING PARAMETERS")
    card("CCDAMP", "ABCD", "CCD amplifier read out configuration")
    card("CCDGAIN", 2.0 if acs else 1.5, "commanded gain of CCD")
    offset = 1 if acs else 3
    for amp in "ABCD":
        card(f"CCDOFST{amp}", offset, f"commanded CCD bias offset for amplifier {amp}")
    card("BINAXIS1", 1, "axis1 data bin size in unbinned detector pixels")
    card("BINAXIS2", 1, "axis2 data bin size in unbinned detector pixels")
    if acs:
        card("JWROTYPE", "DS_int", "CCD readout mode (DS_int or CLAMP)")
    sec("CALIBRATED ENGINEERING PARAMETERS")
    for kind, comment in (("ATODGN", "calibrated gain for amplifier"),
                          ("READNSE", "calibrated read noise for amplifier"),
                          ("BIASLEV", "bias level for amplifier")):
        for amp in "ABCD":
            card(f"{kind}{amp}", 0.0, f"{comment} {amp}")
    sec("ASSOCIATION KEYWORDS")
    card("ASN_ID", "NONE", "unique identifier assigned to association")
    card("ASN_TAB", "NONE", "name of the association table")
    card("ASN_MTYP", "", "Role of the Member in the Association")
    return h


def sci_extras(instrument: str, roll: float, ra_aper: float, dec_aper: float) -> dict:
    """SCI-extension keywords beyond the layout and WCS ones (per chip, same for both)."""
    return {"WCSAXES": 2, "ORIENTAT": float(round(roll, 6)), "RA_APER": float(round(ra_aper, 10)),
            "DEC_APER": float(round(dec_aper, 10)), "PA_APER": float(round(roll, 6)),
            "VAFACTOR": 1.0, "MEANBLEV": 0.0, "MEANDARK": 0.0, "MEANFLSH": 0.0,
            "SDQFLAGS": 31743 if instrument == "ACS/WFC" else 31743, "NGOODPIX": 0}
