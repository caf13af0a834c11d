"""Prompts: chat formats (how a model wants its turns), format files users add, and the RAG
template (what the model is told about the passages and the question)."""
