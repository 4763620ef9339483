"""The curriculum and its index: the corpus, the sentence encoder (with the vectors it made of the corpus, shipped),
and the Chroma index of both."""
