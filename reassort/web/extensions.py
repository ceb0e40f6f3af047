"""Extensions created unbound here and bound to the app in ``create_app``."""

from flask_limiter import Limiter
from flask_wtf import CSRFProtect

from reassort.storage.database import Database
from reassort.web.client_address import client_ip

csrf = CSRFProtect()
limiter = Limiter(key_func=client_ip)
db = Database()
