"""``python -m mxfair <command>``: the command line of mxfair.

Commands: ``audit`` (audit an exported model on a CSV file, see ``python -m mxfair audit -h``).
The distributed launcher keeps its own entry point, ``python -m mxfair.launch``.
"""
import sys
from typing import List, Optional

from .auditing import cli

COMMANDS = {"audit": "audit an exported model on a CSV file and write the report page"}
USAGE = "usage: mxfair <command> [options]\n\ncommands:\n" + "\n".join(
    f"  {name:<8}{text}" for name, text in COMMANDS.items()
) + "\n\n(the distributed launcher: python -m mxfair.launch)"


def main(argv: Optional[List[str]] = None) -> int:
    """Dispatch to a command; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "audit":
        return cli.main(rest)
    print(f"mxfair: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
