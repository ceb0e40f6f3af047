"""Pieces shared by the forms."""

from flask import request
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from reassort import runtime

REQUIRED = "Ce champ est obligatoire."


class Form(FlaskForm):
    """Every form of Réassort: its fields read the posted text fields only.

    Flask-WTF otherwise also binds uploaded files and JSON bodies to the fields,
    which then hold a ``FileStorage``, a number or a list instead of text and
    make the validators raise (a 500 found by ``tests/test_fuzz_forms.py``).
    """

    def __init__(self, *args, **kwargs):
        if not args and "formdata" not in kwargs and request.method == "POST":
            kwargs["formdata"] = request.form
        super().__init__(*args, **kwargs)


class CaptchaForm(Form):
    """A form ending with the CAPTCHA answer; the field goes when the CAPTCHA is off."""

    captcha = StringField("CAPTCHA", validators=[InputRequired(REQUIRED), Length(max=32)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not runtime.setting("CAPTCHA_ENABLED"):
            del self.captcha
        else:
            # Declared first (in this base class), shown last: the error summary follows the page's order.
            self._fields.move_to_end("captcha")

    @property
    def captcha_answer(self) -> str | None:
        return self.captcha.data if "captcha" in self._fields else None

    def clear_captcha(self) -> None:
        if "captcha" in self._fields:
            self.captcha.data = ""
