"""The question défi form: answer, NUMEN or NIR, channel and destination.

One term per thing on screen: « courriel » is the message (and the channel),
« adresse électronique » the address.
"""

from wtforms import RadioField, SelectChoice, StringField
from wtforms.validators import InputRequired, Length, ValidationError

from forms.common import REQUIRED, Form
from reassort.rules import contacts, identifiers


class ChallengeForm(Form):
    answer = StringField("Réponse à votre question défi",
                         validators=[InputRequired(REQUIRED), Length(max=100, message="100 caractères au plus.")])
    identifier = StringField("NUMEN ou 10 premiers caractères du n° de sécurité sociale",
                             validators=[InputRequired(REQUIRED), Length(max=40, message="Saisie trop longue.")])
    channel = RadioField("Recevoir le lien par",
                         choices=[SelectChoice("sms", "SMS"), SelectChoice("email", "Courriel")],
                         validators=[InputRequired("Choisissez SMS ou courriel.")])
    phone = StringField("Numéro de téléphone mobile (si SMS)", validators=[Length(max=32)])
    personal_email = StringField("Adresse électronique personnelle (si courriel)", validators=[Length(max=254)])

    def __init__(self, *args, record_email: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.record_email = record_email
        self.destination = None  # the parsed destination, kept only in this object

    def forget_secrets(self) -> None:
        """Before the form is shown again: never the answer nor the destination typed (SEC-20).

        The channel stays, and the NUMEN / n° SS too unless its own shape was
        refused: after a wrong answer or identifier it stays (the page is the same
        whichever was wrong, SEC-01), so that the voter checks it rather than retypes it.
        """
        self.answer.data = self.phone.data = self.personal_email.data = ""
        if self.identifier.errors:
            self.identifier.data = ""

    def validate_identifier(self, field):
        if identifiers.classify(field.data or "") is None:
            raise ValidationError("Saisissez votre NUMEN (13 caractères) ou les 10 premiers caractères "
                                  "de votre n° de sécurité sociale.")

    def validate_phone(self, field):
        if self.channel.data != "sms":
            return
        if not (field.data or "").strip():
            raise ValidationError("Saisissez le numéro de mobile qui recevra le SMS.")
        self.destination = contacts.parse_mobile(field.data)
        if self.destination is None:
            raise ValidationError("Numéro de mobile français invalide (exemple : 06 12 34 56 78 ou +590 690 12 34 56).")

    def validate_personal_email(self, field):
        if self.channel.data != "email":
            return
        if not (field.data or "").strip():
            raise ValidationError("Saisissez l'adresse électronique personnelle qui recevra le lien.")
        address = contacts.parse_email(field.data)
        if address is None:
            raise ValidationError("Adresse électronique invalide (exemple : prenom.nom@exemple.fr).")
        if contacts.same_mailbox(address, self.record_email):
            raise ValidationError("Indiquez une adresse personnelle, différente de votre adresse "
                                  "professionnelle.")
        self.destination = address
