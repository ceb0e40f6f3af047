"""Vote-code form."""

from wtforms import StringField
from wtforms.validators import InputRequired, Length

from forms.common import REQUIRED, CaptchaForm


class VoteCodeForm(CaptchaForm):
    code = StringField("Code de vote", validators=[InputRequired(REQUIRED), Length(max=64)])
