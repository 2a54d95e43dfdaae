import sys

from refinterp.cli import main

sys.exit(main())
