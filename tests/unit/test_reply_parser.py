import pytest

from app.domain.replies import Intent, Reply, read_reply


@pytest.mark.parametrize(("text", "expected"), [
    ("YES ABC123", Reply(Intent.CONFIRM, "ABC123")),
    ("yes abc123", Reply(Intent.CONFIRM, "ABC123")),
    ("  Yes,   abc123!! ", Reply(Intent.CONFIRM, "ABC123")),
    ("Yes. ABC123.", Reply(Intent.CONFIRM, "ABC123")),
    ("CONFIRM 0F9A2B", Reply(Intent.CONFIRM, "0F9A2B")),
    ("confirmed", Reply(Intent.CONFIRM)),
    ("Received", Reply(Intent.CONFIRM)),
    ("ndio ABC123", Reply(Intent.CONFIRM, "ABC123")),
    ("Ndiyo abc123", Reply(Intent.CONFIRM, "ABC123")),
    ("SAWA", Reply(Intent.CONFIRM)),
    ("sawa, abc123", Reply(Intent.CONFIRM, "ABC123")),
    ("yes", Reply(Intent.CONFIRM)),
    ("Y", Reply(Intent.CONFIRM)),
    ("abc123 yes", Reply(Intent.CONFIRM, "ABC123")),
    ("status abc123", Reply(Intent.STATUS, "ABC123")),
    ("STATUS", Reply(Intent.STATUS)),
    ("Hali ABC123?", Reply(Intent.STATUS, "ABC123")),
    ("yes please send more", Reply(Intent.UNKNOWN)),
    ("yes ABC12", Reply(Intent.UNKNOWN)),
    ("hello", Reply(Intent.UNKNOWN)),
    ("", Reply(Intent.UNKNOWN)),
    ("   ...  ", Reply(Intent.UNKNOWN)),
    ("asante sana", Reply(Intent.UNKNOWN)),
    ("abc123", Reply(Intent.UNKNOWN)),
])
def test_replies_are_read_in_english_and_swahili(text, expected):
    assert read_reply(text) == expected
