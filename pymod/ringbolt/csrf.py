"""``ringbolt.csrf``, its public import path: the module ``ringbolt.security.csrf`` itself
(the same module object, so an attribute set or patched through either is one)."""

import sys

from .security.csrf import *  # noqa: F401,F403 - the names a type checker sees here
from .security import csrf as _module

sys.modules[__name__] = _module
