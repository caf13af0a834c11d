"""Search: candidates from the dense, lexical and sentence indexes, fused into one ranking,
optionally reranked, and turned into passages."""
