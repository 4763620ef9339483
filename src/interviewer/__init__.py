"""An offline mock interviewer for MLOps and production-ML interviews."""

__version__ = "0.1.0"
