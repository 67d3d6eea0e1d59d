"""``python -m questionnaires check``: validate questionnaire files before shipping them."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .loader import DIRECTORY, QuestionnaireError, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m questionnaires",
        description="Check questionnaire files (TOML) the way the app loads them.",
        epilog="Example: python -m questionnaires check questionnaires/sipas-hcm-26.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check",
        help="validate files and print each one's id, version, size and checksum",
        description="Validate questionnaire files; print one line per file, errors on stderr. "
                    "Exit status 1 if any file is refused.",
        epilog="Example: python -m questionnaires check            # every shipped questionnaire\n"
               "         python -m questionnaires check my-survey.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("paths", nargs="*", type=Path, metavar="FILE",
                       help=f"questionnaire files (default: every *.toml in {DIRECTORY})")
    args = parser.parse_args(argv)

    failed = 0
    for path in args.paths or sorted(DIRECTORY.glob("*.toml")):
        try:
            q = load(path)
        except QuestionnaireError as error:
            print(error, file=sys.stderr)
            failed += 1
            continue
        print(f"ok {q.id} version {q.version}: {len(q.factors)} factors, {len(q.criteria)} criteria, "
              f"{len(q.respondent)} respondent questions, sha256 {q.checksum[:12]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
