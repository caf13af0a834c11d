"""SQLite for the stores that live beside the collections (the API's job store): opened and
written the same way as a collection's chunk store, so the layers above `rag` need not reach
into `index`."""

from index.sqlite import connect, immediate_transaction

__all__ = ["connect", "immediate_transaction"]
