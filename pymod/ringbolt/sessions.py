"""``ringbolt.sessions``, its public import path: the module ``ringbolt.security.sessions`` itself
(the same module object, so an attribute set or patched through either is one)."""

import sys

from .security.sessions import *  # noqa: F401,F403 - the names a type checker sees here
from .security import sessions as _module

sys.modules[__name__] = _module
