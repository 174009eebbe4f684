"""`python -m tests.chaos`: the chaos suite at any size, outside pytest."""

import sys

from tests.chaos.run import main

sys.exit(main())
