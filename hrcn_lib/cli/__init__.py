"""The ``hrcn`` command line: thin wrappers over the library.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)`` (adds its parser) and ``run(args) -> int`` (does the
work by calling :mod:`hrcn_lib`). The command modules import nothing heavy at module
level (torch, numpy, astropy... are imported inside ``run``), so ``hrcn --help`` and
``hrcn <command> --help`` answer at once; a command whose module is missing is skipped
so one broken command cannot break the others.

Every command takes ``-q/--quiet`` and ``-v/--verbose`` (:mod:`hrcn_lib.cli.verbosity`:
progress and information through :mod:`logging` on stderr, results on stdout);
``hrcn --version`` prints the version. ``python -m hrcn_lib`` is ``hrcn``.

Exit status (:func:`main`): 0 on success; 2 for a usage error (argparse's own, an argument
``type=`` of :mod:`hrcn_lib.cli.argtypes`, or a :class:`UsageError` a command raises after
parsing, e.g. an argument that contradicts the model it names); 1 for a runtime error: bad
input files, manifests or checkpoints, a diverged training run, a used run folder (the
library's ``ValueError`` subclasses such as ``PreprocessError``, ``ManifestError``,
``SampleError``, ``CheckpointError``, ``TrainingDiverged``; ``OSError`` such as
``FileNotFoundError``; and any other exception class defined in :mod:`hrcn_lib`). Errors are
one line on stderr, ``hrcn <command>: error: <message>``; anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "COMMANDS", "UsageError"]

#: sub-command name -> module under ``hrcn_lib.cli`` implementing it.
COMMANDS: dict[str, str] = {
    "preprocess": "preprocess",
    "simulate": "simulate",
    "fetch": "fetch",
    "train": "train",
    "evaluate": "evaluate",
    "classify": "classify",
    "book": "book",
    "record": "record",
}


class UsageError(Exception):
    """A command-line argument that cannot be used (exit status 2, like argparse's errors)."""


def _is_runtime_error(exc: BaseException) -> bool:
    """Errors about inputs, files or the run (exit 1), as opposed to bugs (traceback)."""
    return isinstance(exc, (ValueError, OSError)) or type(exc).__module__.startswith("hrcn_lib")


def build_parser() -> argparse.ArgumentParser:
    """The ``hrcn`` parser with every available sub-command registered."""
    from hrcn_lib import __version__
    from hrcn_lib.cli.verbosity import add_verbosity_arguments

    parser = argparse.ArgumentParser(
        prog="hrcn",
        description="HR-CelestialNet companion: preprocess raw HST frames, simulate LCID, "
        "train and evaluate the paper's models, build the book.",
    )
    parser.add_argument("--version", action="version", version=f"hrcn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS.values():
        try:
            mod = importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{module}":
                continue  # command not implemented in this checkout
            raise
        mod.register(sub)
    for command_parser in sub.choices.values():
        add_verbosity_arguments(command_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hrcn`` console script; returns the exit status."""
    from hrcn_lib.cli.verbosity import configure_logging

    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors: argparse exits with status 2
    configure_logging(args.command, quiet=args.quiet, verbose=args.verbose)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"hrcn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 -- sorted below: runtime errors vs bugs
        if not _is_runtime_error(exc):
            raise
        # Library errors are written to name the file/HDU/row and the fix: show them plainly.
        print(f"hrcn {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
