"""``python -m hrcn_lib``: the ``hrcn`` command line (:func:`hrcn_lib.cli.main`)."""

import sys

from hrcn_lib.cli import main

sys.exit(main())
