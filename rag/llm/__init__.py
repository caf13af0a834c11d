"""Language models: the `Generator` protocol, the factory that picks a backend from the settings,
the llama-cpp / transformers / OpenAI-compatible backends, and where model files come from."""
