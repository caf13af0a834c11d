"""Answering from passages: the context that fits the model, the generated or extractive answer,
the evidence quoted for it and the check of every claim against the passages."""
