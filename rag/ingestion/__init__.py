"""Ingestion as the library runs it: plan the files, prepare them in worker processes
(`ingest/`), embed and commit them into a collection, and report what became of each."""
