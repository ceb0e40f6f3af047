"""Pieces shared by the forms."""

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length

REQUIRED = "Ce champ est obligatoire."


class CaptchaForm(FlaskForm):
    """A form ending with the CAPTCHA answer; the field goes when the CAPTCHA is off."""

    captcha = StringField("CAPTCHA", validators=[InputRequired(REQUIRED), Length(max=32)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not current_app.config["CAPTCHA_ENABLED"]:
            del self.captcha

    @property
    def captcha_answer(self) -> str | None:
        return self.captcha.data if "captcha" in self._fields else None

    def clear_captcha(self) -> None:
        if "captcha" in self._fields:
            self.captcha.data = ""
