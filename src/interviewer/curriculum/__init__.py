"""The curriculum and its index: the corpus, the sentence encoder, and the Chroma index of both."""
