"""Errors whose message is safe and useful to show a user as it is."""


class InterviewerError(Exception):
    """A problem the user can act on; its message is one clear line."""


class CorpusError(InterviewerError):
    """The curriculum files are broken; the message names file, entry and field."""


class NotFoundError(InterviewerError):
    """A prompt, topic, day or session id that does not exist."""


class AnswerRejected(InterviewerError):
    """An answer that cannot be graded as given (too long, not text)."""


class AudioRejected(AnswerRejected):
    """A spoken answer that cannot be transcribed: empty, not audio, silent, only noise or too long."""


class StorageError(InterviewerError):
    """The session database or the data folder cannot be used."""


class SessionFinished(InterviewerError):
    """The session has ended; it takes no more answers."""


class LimitReached(InterviewerError):
    """A per-user limit was reached; nothing was stored and the user may try again later."""


class SessionBusy(InterviewerError):
    """Another process holds the lease of this session's turn in flight; nothing was stored, try again shortly."""
