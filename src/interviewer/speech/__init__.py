"""Spoken answers: offline speech-to-text and the delivery figures of a recording."""
