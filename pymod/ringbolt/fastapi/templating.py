"""``Jinja2Templates``: ringbolt's Jinja2 templates (``TemplateResponse`` as FastAPI's)."""

from __future__ import annotations

from ..templating import Templates as Jinja2Templates

__all__ = ["Jinja2Templates"]
