import sys

from northstar.cli import main

sys.exit(main())
