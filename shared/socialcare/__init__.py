"""socialcare: the application package deployed as the SharedLayer (see docs/architecture.md)."""

__version__ = "0.1.0"
