"""``fastapi.logger``."""

import logging

logger = logging.getLogger("fastapi")
