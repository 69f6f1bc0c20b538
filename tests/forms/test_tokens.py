"""Signed tokens: tamper-proof, expiring on a frozen clock, one salt per purpose."""

import pytest

from forms import tokens

SECRET = "a-test-secret-of-enough-length"
T0 = 1_800_000_000  # a fixed "now"
WEEK = 7 * 24 * 3600
NONCE = "0123456789abcdef0123456789abcdef"


def test_confirm_token_round_trip():
    token = tokens.confirm_token(SECRET, 12, NONCE, now=T0)
    assert tokens.read_confirm_token(SECRET, token, WEEK, now=T0 + 60) == (12, NONCE)


def test_confirm_token_expires_after_max_age_but_still_names_its_link():
    token = tokens.confirm_token(SECRET, 12, NONCE, now=T0)
    assert tokens.read_confirm_token(SECRET, token, WEEK, now=T0 + WEEK) == (12, NONCE)
    with pytest.raises(tokens.ExpiredToken) as info:
        tokens.read_confirm_token(SECRET, token, WEEK, now=T0 + WEEK + 1)
    assert info.value.payload == (12, NONCE)


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
    lambda t: "WzEzLDM0XQ" + t[t.index("."):],  # payload [13,34] with the old signature
    lambda t: t + "x",
    lambda t: "garbage",
])
def test_tampered_confirm_token_is_refused(mangle):
    token = tokens.confirm_token(SECRET, 12, NONCE, now=T0)
    with pytest.raises(tokens.InvalidToken) as info:
        tokens.read_confirm_token(SECRET, mangle(token), WEEK, now=T0)
    assert not isinstance(info.value, tokens.ExpiredToken)


def test_another_secret_is_refused():
    token = tokens.confirm_token(SECRET, 1, NONCE, now=T0)
    with pytest.raises(tokens.InvalidToken):
        tokens.read_confirm_token("another-secret-entirely", token, WEEK, now=T0)


def test_a_token_for_one_purpose_is_useless_for_another():
    render = tokens.sign(SECRET, "rendered", [1, 2], now=T0)
    with pytest.raises(tokens.InvalidToken):
        tokens.read_confirm_token(SECRET, render, WEEK, now=T0)
    confirm = tokens.confirm_token(SECRET, 1, NONCE, now=T0)
    with pytest.raises(tokens.InvalidToken):
        tokens.read_unsubscribe_token(SECRET, confirm)


def test_fill_seconds_measures_from_the_signed_render_time():
    stamp = tokens.render_token(SECRET, 7, now=T0)
    assert tokens.fill_seconds(SECRET, stamp, 7, now=T0 + 5) == 5
    with pytest.raises(tokens.InvalidToken):
        tokens.fill_seconds(SECRET, stamp, 8, now=T0 + 5)  # rendered for another form
    with pytest.raises(tokens.InvalidToken):
        tokens.fill_seconds(SECRET, stamp, 7, now=T0 + tokens.RENDER_MAX_AGE + 1)
    for other in (tokens.confirm_token(SECRET, 7, NONCE, now=T0), stamp.replace("7.", "8.", 1),
                  tokens.render_token("another-secret-entirely", 7, now=T0)):
        with pytest.raises(tokens.InvalidToken):  # another purpose, tampered, forged
            tokens.fill_seconds(SECRET, other, 7, now=T0 + 5)


def test_a_confirm_token_signed_before_nonces_is_refused():
    legacy = tokens.sign(SECRET, "confirm", [12, 34], now=T0)  # [confirmation id, contact id]
    with pytest.raises(tokens.InvalidToken):
        tokens.read_confirm_token(SECRET, legacy, WEEK, now=T0)


def test_unsubscribe_token_names_its_link_and_nonce():
    token = tokens.unsubscribe_token(SECRET, 5, NONCE)
    assert tokens.read_unsubscribe_token(SECRET, token) == (5, NONCE)
    legacy = tokens.sign(SECRET, "unsubscribe", [34, 2], now=T0)  # [contact id, account id]
    assert tokens.read_unsubscribe_token(SECRET, legacy) == tokens.LegacyUnsubscribe(34, 2, T0)
    for bad in ([5, ""], [5], ["5", NONCE], [5, NONCE, 1], {"id": 5}):
        with pytest.raises(tokens.InvalidToken):
            tokens.read_unsubscribe_token(SECRET, tokens.sign(SECRET, "unsubscribe", bad))


def test_nonces_are_random():
    assert len({tokens.new_nonce() for _ in range(1000)}) == 1000
    assert all(len(n) == 32 for n in (tokens.new_nonce(), tokens.new_nonce()))
