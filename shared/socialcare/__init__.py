"""socialcare: the domain package deployed as the SharedLayer (see ARCHITECTURE.md)."""

__version__ = "0.1.0"
