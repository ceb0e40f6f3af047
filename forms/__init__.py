"""Form validation (Flask-WTF, CSRF on every form)."""
