"""« Mon compte »: each change asks for the current password first.

Password fields never render what was typed (WTForms' ``PasswordInput``): a form shown
again after an error holds no password.
"""

from wtforms import PasswordField
from wtforms.validators import InputRequired, Length

from forms.auth import ChallengeChoiceForm, NewPasswordForm
from forms.common import REQUIRED, Form


class _CurrentPassword(Form):
    current_password = PasswordField("Mot de passe actuel", validators=[InputRequired(REQUIRED), Length(max=256)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Declared in this base class, shown first: the error summary follows the page's order.
        self._fields.move_to_end("current_password", last=False)


class ChangePasswordForm(_CurrentPassword, NewPasswordForm):
    pass


class ChangeChallengeForm(_CurrentPassword, ChallengeChoiceForm):
    pass
