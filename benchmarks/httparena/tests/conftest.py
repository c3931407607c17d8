"""The runner's tests import its package (benchmarks/httparena/arena) from the tree."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
