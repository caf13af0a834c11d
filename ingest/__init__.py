"""Pure ingestion steps: file -> elements -> chunks -> vectors.

Each step is a plain function (or a model adapter) from one value to the next, so that a batch
engine can run them as map tasks. Nothing here touches storage.
"""
