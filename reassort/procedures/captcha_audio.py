"""The audio CAPTCHA: the six digits spoken one by one in French, clearly, over a light noise.

Each digit is a recording of ``reassort/data/captcha_voices/<digit>.wav`` (16 kHz,
16-bit mono, made by ``scripts/make_captcha_voices.sh``), played forward, at a
slightly varied loudness, with a pause of 0.6 to 0.9 s between digits; a soft
noise (its RMS about 25 dB below the voices) runs underneath.  No reversed or overlapping
voices as decoys: six digits take about eight seconds.  All randomness comes
from ``rng`` (derived from the challenge by ``captchas``): one challenge, one recording.
"""

from __future__ import annotations

import functools
import io
import os
import random
import wave
from array import array

RATE = 16000
VOICES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "captcha_voices")
LEAD_IN, TAIL = 0.6, 0.5          # seconds of noise before the first digit and after the last
PAUSE = (0.6, 0.9)                # seconds between two digits
GAIN = (0.8, 1.0)                 # loudness of each digit, relative to its recording
NOISE_SHIFT = 6                   # noise = random 16-bit samples >> 6: peak 512, RMS ~25 dB under the voices


@functools.lru_cache(maxsize=None)
def voice(digit: str) -> array:
    """The samples of one digit's recording (16-bit signed, mono, ``RATE``)."""
    with wave.open(os.path.join(VOICES, f"{digit}.wav"), "rb") as recording:
        if (recording.getframerate(), recording.getsampwidth(), recording.getnchannels()) != (RATE, 2, 1):
            raise ValueError(f"voix du CAPTCHA au mauvais format : {digit}.wav (16 kHz, 16 bits, mono attendu)")
        samples = array("h")
        samples.frombytes(recording.readframes(recording.getnframes()))
    return samples


def _silence(seconds: float) -> array:
    return array("h", [0]) * int(seconds * RATE)


def render(digits: str, rng: random.Random) -> bytes:
    """The WAV file (16 kHz, 16-bit, mono) saying ``digits``."""
    track = _silence(LEAD_IN)
    for i, digit in enumerate(digits):
        gain = rng.uniform(*GAIN)
        track.extend(int(s * gain) for s in voice(digit))
        track.extend(_silence(TAIL if i == len(digits) - 1 else rng.uniform(*PAUSE)))
    noise = array("h")
    noise.frombytes(rng.randbytes(2 * len(track)))
    # Voices peak at -3 dB (23 000) and the noise at 512: the sum never leaves 16 bits.
    mixed = array("h", [s + (n >> NOISE_SHIFT) for s, n in zip(track, noise, strict=True)])
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(mixed.tobytes())
    return out.getvalue()
