import pytest
from django.core.management import CommandError, call_command

from common.tokens import hash_token
from teams.models import ApiToken
from tests.teams.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_printed_token_authenticates_the_read_api_and_is_stored_hashed(client, capsys):
    user = UserFactory(username="alice")
    call_command("create_api_token", "alice")
    token = capsys.readouterr().out.strip()

    stored = ApiToken.objects.get(user=user)
    assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    response = client.get("/api/schema/?format=json", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    stored.refresh_from_db()
    assert stored.last_used_at is not None


@pytest.mark.parametrize(
    "header", ["Token wct_not-a-real-token", "Token", "Token a b", "Token \u00e9t\u00e9"]
)
def test_bad_tokens_get_401_in_the_error_shape(client, header):
    response = client.get("/api/schema/?format=json", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "fields"}


def test_no_token_no_session_is_refused(client):
    assert client.get("/api/schema/?format=json").status_code == 401


def test_unknown_user_exits_2():
    with pytest.raises(CommandError, match="no user named 'ghost'") as raised:
        call_command("create_api_token", "ghost")
    assert raised.value.returncode == 2
