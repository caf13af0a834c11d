"""Storage: chunk text and metadata in SQLite (the source of truth), vectors in FAISS."""
