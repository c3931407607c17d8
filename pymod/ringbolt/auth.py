"""``ringbolt.auth``, its public import path: the module ``ringbolt.security.auth`` itself
(the same module object, so an attribute set or patched through either is one)."""

import sys

from .security.auth import *  # noqa: F401,F403 - the names a type checker sees here
from .security import auth as _module

sys.modules[__name__] = _module
