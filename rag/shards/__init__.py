"""Sharded collections: N stores searched together, published atomically by a manifest.

`layout` names the files, `sharded` searches and changes a published collection, `run` writes a
new generation of shards (copy on write) and publishes it, `ray_ingest` fills a run on Ray.
"""
