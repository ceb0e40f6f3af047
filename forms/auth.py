"""Login, activation, and the forms of a voter who forgot their password or lost the activation mail.

The new password is chosen under the same rules everywhere (``NewPasswordForm``:
activation, forgotten password, « Mon compte »), and the question défi the same way
at activation and in « Mon compte » (``ChallengeChoiceForm``).
"""

from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, ValidationError
from wtforms.widgets import PasswordInput

from forms.common import REQUIRED, CaptchaForm, Form
from reassort.rules import contacts, passwords
from reassort.rules.questions import QUESTIONS


class LoginForm(CaptchaForm):
    email = EmailField("Adresse électronique professionnelle",
                       validators=[InputRequired(REQUIRED), Length(max=254)])
    password = PasswordField("Mot de passe", validators=[InputRequired(REQUIRED), Length(max=256)])

    def keep_password(self) -> None:
        """Render the password just posted back into its field (« Afficher un autre CAPTCHA » only).

        It goes back in the body of the answer to the POST that carried it, on a
        ``no-store`` page: never in a URL, the session or a log.
        """
        self.password.widget = PasswordInput(hide_value=False)


class NewPasswordForm(Form):
    """A new password and its confirmation, under ``reassort.rules.passwords`` (NIST SP 800-63B)."""

    password = PasswordField("Nouveau mot de passe", validators=[InputRequired(REQUIRED)])
    confirm = PasswordField("Confirmation du mot de passe", validators=[
        InputRequired(REQUIRED), EqualTo("password", "Les deux mots de passe ne sont pas identiques.")])

    def validate_password(self, field):
        problem = passwords.problem(field.data or "")
        if problem:
            raise ValidationError(problem)


class ChallengeChoiceForm(Form):
    """A question défi from the vetted list (SEC-05) and its answer."""

    question = SelectField("Question défi",
                           choices=[SelectChoice("", "Choisissez une question")]
                           + [SelectChoice(k, v) for k, v in QUESTIONS.items()],
                           validators=[InputRequired("Choisissez une question défi.")])
    answer = StringField("Réponse à la question défi", validators=[
        InputRequired(REQUIRED), Length(min=3, max=100, message="La réponse doit compter entre 3 et 100 caractères.")])

    def validate_question(self, field):
        if field.data not in QUESTIONS:
            raise ValidationError("Choisissez une question de la liste.")


class ActivationForm(NewPasswordForm, ChallengeChoiceForm):
    """Password first, then the question défi (the fields keep the order they were declared in)."""


class AccountLinkForm(CaptchaForm):
    """« Mot de passe oublié ? » and « Je n'ai pas reçu mon lien d'activation »: the address and the CAPTCHA.

    Its shape is checked (a typo gets a message); whether anybody has it is never said.
    """

    email = EmailField("Adresse électronique professionnelle",
                       validators=[InputRequired(REQUIRED), Length(max=254)])

    def validate_email(self, field):
        if contacts.parse_email(field.data or "") is None:
            raise ValidationError("Adresse électronique invalide : saisissez l'adresse complète "
                                  "(exemple : prenom.nom@ac-exemple.fr).")
