"""``ringbolt.reloader``, its public import path: the module ``ringbolt.serving.reloader`` itself
(the same module object, so an attribute set or patched through either is one)."""

import sys

from .serving.reloader import *  # noqa: F401,F403 - the names a type checker sees here
from .serving import reloader as _module

sys.modules[__name__] = _module
