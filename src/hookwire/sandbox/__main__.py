"""``python -m hookwire.sandbox <memory-bytes>``: the schema sandbox's child (see child.py)."""

import sys

from hookwire.sandbox.child import main

main(sys.argv)
