"""``python -m refinterp.tools.fuzz``: the same as ``refinterp fuzz``."""

import sys

from refinterp.errors import RefinterpError
from refinterp.tools.arguments import EXIT_ERROR
from refinterp.tools.fuzz.command import fuzz_main

if __name__ == "__main__":
    try:
        sys.exit(fuzz_main(sys.argv[1:]))
    except RefinterpError as exc:
        print(f"refinterp: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        print("refinterp fuzz: interrupted", file=sys.stderr)
        sys.exit(130)
