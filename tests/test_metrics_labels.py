"""No label value is ever personal: after fuzzed requests, sends and events, every label of
every ``reassort_*`` sample is one its allow-list admits (or ``other``).

The counts live in this process and are shared by the whole run, so the scrape at the
end of each test also judges what every earlier test fed the app — the fuzz tests of
``test_fuzz_*.py`` run before this file in a full run.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from reassort import metrics
from reassort.adapters import messaging
from reassort.procedures import audit, audit_metrics
from tests.conftest import ANSWER, NUMEN, csrf_of
from tests.fuzzing import NASTY, OPEN_LIMITS, any_text, field_text, form_submission, fuzz_settings

TOKEN = "jeton-de-supervision-0123456789abcdef"
#: What a personal value would look like: an address, a number or a voter id, a character
#: no code word has, or a token (long, upper case and digits mixed; route names are lower case).
PERSONAL = re.compile(r"@|%40|\d{5,}|\+\d|[^\x21-\x7e]|(?=\S*[A-Z])(?=\S*\d)\S{20,}")
#: E-mail addresses, numbers and domains a voter could type.
DESTINATIONS = st.one_of(st.sampled_from(NASTY), field_text,
                         st.builds(lambda local, domain: f"{local}@{domain}",
                                   st.from_regex(r"[a-z0-9.]{1,12}", fullmatch=True),
                                   st.sampled_from(["gmail.com", "famille-martin.fr", "ORANGE.FR", "x.y.z",
                                                    "exemple.org", "[127.0.0.1]", "ac-lyon.fr"])))


@pytest.fixture
def settings(settings):
    settings.update(OPEN_LIMITS, METRICS_TOKEN=TOKEN)
    return settings


def assert_every_label_is_allowed(client) -> None:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    seen = 0
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            for label, value in sample.labels.items():
                if label == "le":
                    continue  # a histogram's bucket bound
                if family.name.startswith("reassort_"):
                    allowed = metrics.FAMILIES[family.name].labels[label]
                    admitted = value in allowed if isinstance(allowed, frozenset) else allowed(value)
                    assert admitted or value == metrics.OTHER, (family.name, label, value)
                    assert not PERSONAL.search(value), (family.name, label, value)
                    seen += 1
    assert seen, "no labelled sample scraped: the check proves nothing"


def test_no_label_value_is_personal_after_fuzzed_forms_and_paths(app, client, logged_in):
    client, _voter_id, _email = logged_in

    @fuzz_settings()
    @given(data=st.data())
    def check(data):
        page = client.get("/reassort/question-defi")
        fields = {"answer": st.just(ANSWER), "identifier": st.just(NUMEN), "channel": st.sampled_from(["sms", "email"]),
                  "phone": DESTINATIONS, "personal_email": DESTINATIONS}
        client.post("/reassort/question-defi", **data.draw(form_submission(fields, csrf_of(page))))
        # One leading slash: the test client reads « //:a » as a host and a port (ValueError),
        # where a real client would send it as a path.
        path = "/" + quote(data.draw(any_text), safe="/@:").lstrip("/")
        method = data.draw(st.sampled_from(["GET", "POST", "HEAD", "PROPFIND", "DELETE", "get"]))
        client.open(path, method=method)
        client.get("/reassort/lien/" + quote(data.draw(field_text), safe="@"))

    check()
    assert_every_label_is_allowed(client)


def test_no_label_value_is_personal_after_fuzzed_sends_and_events(app, client):
    metrics.allow_endpoints(app.view_functions)

    @fuzz_settings(scale=2)
    @given(channel=st.sampled_from(["sms", "email"]), to=DESTINATIONS,
           event=st.sampled_from(sorted(audit.EVENTS)), detail=st.one_of(st.none(), DESTINATIONS),
           reason=st.one_of(st.sampled_from(sorted(metrics.SHED_REASONS)), DESTINATIONS))
    def check(channel, to, event, detail, reason):
        with app.app_context():
            message = messaging.Message(channel=channel, to=to, subject="Objet", body="Corps\n")
            (messaging.send_sms if channel == "sms" else messaging.send_email)(message)
        audit_metrics.count(event, detail)
        metrics.shed(reason)

    check()
    assert_every_label_is_allowed(client)
