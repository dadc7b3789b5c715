"""The ``koop`` command: ``koop demo``, ``koop analyze FILE``, ``koop compare``,
``koop benchmark``.

Each subcommand lives in ``koop/_cli/<name>.py`` with ``configure(parser)`` and
``run(args) -> int``; this dispatcher imports only the one that runs. Errors the user can
fix (bad file, bad option) print one line and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser", "SUBCOMMANDS"]

SUBCOMMANDS = {
    "demo": ("koop._cli.demo", "fit EDMD, ResDMD and HAVOK on built-in data and write a report"),
    "analyze": ("koop._cli.analyze", "fit a model to a data file (.nc, .csv, .npy, .npz)"),
    "compare": ("koop._cli.compare", "Koopman models vs RNN reconstructions (system or files)"),
    "benchmark": ("koop._cli.benchmark", "run a benchmark suite (dysts chaotic systems)"),
}


class CLIError(Exception):
    """An error caused by the user's input: printed as one line, exit status 2."""


def _one_line_error(prog: str):
    """An ``ArgumentParser.error`` that prints one line (no usage block) and exits 2."""

    def error(message: str) -> None:
        print(f"{prog}: error: {message} (see {prog} --help)", file=sys.stderr)
        raise SystemExit(2)

    return error


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Build the argument parser.

    Only the subcommand named in ``argv`` is imported (and configured); ``koop --help``
    and ``koop --version`` import none, so they answer at once. With ``argv=None`` every
    subcommand is configured (the full parser, for documentation tools).
    """
    from koop._version import __version__

    parser = argparse.ArgumentParser(
        prog="koop",
        description="Learn Koopman operators from time series, with verified spectra.",
    )
    parser.error = _one_line_error("koop")
    parser.add_argument("--version", action="version", version=f"koop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    configure_all = argv is None
    wanted = None if argv is None else next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.error = _one_line_error(f"koop {name}")
        if configure_all or wanted == name:
            mod = importlib.import_module(module)
            mod.configure(p)
            p.set_defaults(handler=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``koop`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args) or 0)
    except (CLIError, ValueError, TypeError, FileNotFoundError, OSError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"koop {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("koop: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
