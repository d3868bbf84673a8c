"""LLM learners: backends (llama.cpp, embeddings), a shared cache, prompts, and the learners."""
