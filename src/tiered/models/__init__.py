"""Models: anything that answers a `Request`. Providers, fakes and composites all satisfy `Model`."""

from tiered.models.base import Model

__all__ = ["Model"]
