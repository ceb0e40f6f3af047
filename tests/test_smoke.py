from tests.conftest import CODE, csrf_of


def test_login_vote_code_opens_voting_space(logged_in):
    client, voter_id, _ = logged_in
    home = client.get("/")
    assert "Consulter les scrutins" in home.get_data(as_text=True)
    page = client.get("/vote")
    response = client.post("/vote", data={"code": CODE, "captcha": "", "csrf_token": csrf_of(page)})
    assert response.status_code == 302
    space = client.get("/espace-de-vote")
    assert "CAP académique" in space.get_data(as_text=True)
