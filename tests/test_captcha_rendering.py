"""The CAPTCHA a person can read and hear (issue 13 item 6, SEC-38, SEC-44): digits dark on light,
apart from each other; six clear spoken digits at 16 kHz, no reversed decoys; one rendering per challenge."""

import io
import random
import wave
from array import array

import pytest
from PIL import Image

from reassort.procedures import captcha_audio, captcha_image, captchas


def rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311  (a test's reproducible draw, not a secret)


def luminance(rgb) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("seed", range(20))
def test_image_digits_stand_apart_dark_on_light(seed):
    image, boxes = captcha_image.render("283947", rng(seed))
    assert image.size == (captcha_image.WIDTH, captcha_image.HEIGHT) and len(boxes) == 6
    # Left to right, inside the picture, never touching each other (no overlap to untangle).
    for (_left, _top, right, _bottom), (next_left, *_rest) in zip(boxes, boxes[1:], strict=False):
        assert right < next_left
    assert all(0 <= b[0] and b[2] <= image.width and 0 <= b[1] and b[3] <= image.height for b in boxes)
    pixels = image.load()
    background = captcha_image.BACKGROUND
    for left, top, right, bottom in boxes:
        inked = [pixels[x, y] for x in range(left, right) for y in range(top, bottom)]
        darkest = max(contrast(p, background) for p in inked)
        assert darkest >= 10, f"chiffre à {darkest:.1f}:1 seulement"
        # A glyph, not a speck: a good share of its box is ink at 4.5:1 or more.
        assert sum(contrast(p, background) >= 4.5 for p in inked) > 0.12 * len(inked)
    # The clutter around the digits stays light: it never competes with them.
    outside = [pixels[x, y] for x in range(image.width) for y in range(image.height)
               if not any(b[0] <= x < b[2] and b[1] <= y < b[3] for b in boxes)]
    assert max(contrast(p, background) for p in outside) < 3.6


def test_inks_and_clutter_colours_meet_their_contrast():
    assert all(contrast(ink, captcha_image.BACKGROUND) >= 10 for ink in captcha_image.INKS)
    assert contrast(captcha_image.CLUTTER, captcha_image.BACKGROUND) < 3.6


def test_sec44_one_challenge_one_picture_one_recording(app):
    with app.app_context():
        first, second = "a" * 32, "b" * 32
        assert captchas.image_png(first) == captchas.image_png(first) != captchas.image_png(second)
        assert captchas.audio_wav(first) == captchas.audio_wav(first) != captchas.audio_wav(second)
        assert Image.open(io.BytesIO(captchas.image_png(first))).format == "PNG"


def envelope(samples, rate, frame=0.02):
    step = int(rate * frame)
    return [(sum(s * s for s in samples[i:i + step]) / step) ** 0.5 for i in range(0, len(samples) - step, step)]


def bursts(env, threshold, min_gap=8):
    """Runs of frames above ``threshold`` (gaps shorter than ``min_gap`` frames merged): (start, end)."""
    runs = []
    for i, value in enumerate(env):
        if value >= threshold:
            if runs and i - runs[-1][1] <= min_gap:
                runs[-1][1] = i + 1
            else:
                runs.append([i, i + 1])
    return runs


def correlation(a, b) -> float:
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    ma, mb = sum(a) / n, sum(b) / n
    num = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    den = (sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b)) ** 0.5
    return num / den if den else 0.0


@pytest.mark.parametrize("seed", range(5))
def test_audio_says_six_digits_forward_clearly_at_16_khz(seed):
    digits = "".join(rng(seed).choice(captchas.ALPHABET) for _ in range(6))
    with wave.open(io.BytesIO(captcha_audio.render(digits, rng(seed)))) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (16000, 2, 1)
        samples = array("h", wav.readframes(wav.getnframes()))
    seconds = len(samples) / 16000
    assert 5 <= seconds <= 11, f"{seconds:.1f} s pour six chiffres"
    env = envelope(samples, 16000)
    found = bursts(env, 0.15 * max(env))
    # Exactly six voices: no decoy between or over them.
    assert len(found) == 6, found
    for (start, end), digit in zip(found, digits, strict=True):
        voice = envelope(captcha_audio.voice(digit), 16000)
        heard = env[start:end]
        # That digit's recording and nothing more (its quietest edges may stay under the threshold).
        assert 0.3 * len(voice) <= len(heard) <= len(voice) + 3
        # Played forward: its loudness follows the recording's, not the recording reversed.
        assert correlation(heard, voice) > correlation(heard, voice[::-1])
    # The noise under the voices is light: the pauses are at least 20 dB below the speech.
    pause = env[found[0][1] + 5:found[1][0] - 5]
    assert max(pause) < 0.1 * max(env)


def test_voices_are_16_khz_16_bit_mono_recordings():
    for digit in captchas.ALPHABET:
        assert 0.2 < len(captcha_audio.voice(digit)) / captcha_audio.RATE < 0.8
