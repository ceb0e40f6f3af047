"""The CAPTCHA picture: six digits a person reads at a glance, a machine not quite as easily.

Each digit sits in a slot of its own (slightly turned and shifted, never touching
its neighbours), dark on a near-white ground — at least 10:1, well above the
4.5:1 of WCAG 1.4.3 — while the clutter (speckles, two thin threads under the digits) stays
light, about 3:1, so that it never competes with the digits.  All randomness comes from
``rng`` (derived from the challenge by ``captchas``): one challenge, one picture.
"""

from __future__ import annotations

import random

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 240, 90
BACKGROUND = (251, 251, 248)
#: Ink of the digits: each above 10:1 against BACKGROUND.
INKS = ((22, 22, 64), (48, 24, 8), (8, 48, 40), (40, 16, 48))
#: The clutter: about 3:1 against BACKGROUND, lighter than any digit.
CLUTTER = (140, 140, 150)
SPECKLE = (200, 200, 205)
FONT_SIZE = 50
MARGIN = 4  # pixels between a digit's slot edge and its glyph, at least


def _font() -> ImageFont.FreeTypeFont:
    # The `captcha` package ships DroidSansMono (Apache 2.0): clear digits, installed with it everywhere.
    import captcha.image

    return ImageFont.truetype(captcha.image.DEFAULT_FONTS[0], FONT_SIZE)


def _glyph(digit: str, font: ImageFont.FreeTypeFont, ink: tuple[int, int, int], angle: float) -> Image.Image:
    """One digit on a transparent square, turned by ``angle`` degrees and cropped to its ink."""
    left, top, right, bottom = (int(v) for v in font.getbbox(digit, stroke_width=2))
    tile = Image.new("RGBA", (right - left + 8, bottom - top + 8), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text((4 - left, 4 - top), digit, font=font, fill=ink + (255,), stroke_width=2,
                              stroke_fill=ink + (255,))
    turned = tile.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    return turned.crop(turned.getbbox())


def render(digits: str, rng: random.Random) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """The picture of ``digits`` and the box (left, top, right, bottom) of each digit's ink."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for _ in range(260):
        x, y = rng.randrange(WIDTH), rng.randrange(HEIGHT)
        draw.point((x, y), fill=SPECKLE)
    for _ in range(2):  # two thin threads across, under the digits and lighter than them
        points = [(x, rng.randint(12, HEIGHT - 12)) for x in range(-10, WIDTH + 20, 30)]
        draw.line(points, fill=CLUTTER, width=1, joint="curve")
    font = _font()
    slot = WIDTH // len(digits)
    boxes = []
    for i, digit in enumerate(digits):
        glyph = _glyph(digit, font, rng.choice(INKS), rng.uniform(-16, 16))
        if glyph.width > slot - 2 * MARGIN:  # keep it inside its slot: never touching a neighbour
            scale = (slot - 2 * MARGIN) / glyph.width
            glyph = glyph.resize((int(glyph.width * scale), int(glyph.height * scale)), Image.Resampling.LANCZOS)
        room_x = slot - 2 * MARGIN - glyph.width
        x = i * slot + MARGIN + (rng.randint(0, room_x) if room_x > 0 else 0)
        room_y = HEIGHT - 2 * MARGIN - glyph.height
        y = MARGIN + (rng.randint(0, room_y) if room_y > 0 else 0)
        image.paste(glyph, (x, y), glyph)
        boxes.append((x, y, x + glyph.width, y + glyph.height))
    return image, boxes
