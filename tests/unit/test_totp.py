"""The TOTP module with injected time: RFC 6238 vectors, skew, the clock hint."""

import base64

import pytest

from ozyops.security import totp

# RFC 6238 Appendix B, SHA1, seed "12345678901234567890"; 8-digit values.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_790_000_000.0


@pytest.mark.parametrize("timestamp, expected", RFC_VECTORS)
def test_rfc6238_sha1_vectors(timestamp, expected):
    assert totp.code_at(RFC_SECRET, timestamp, digits=8) == expected


@pytest.mark.parametrize("timestamp, expected", RFC_VECTORS)
def test_six_digit_codes_are_the_rfc_vectors_last_six(timestamp, expected):
    assert totp.code_at(RFC_SECRET, timestamp) == expected[-6:]
    assert totp.matching_step(RFC_SECRET, expected[-6:], timestamp) == timestamp // 30


def test_new_secret_is_160_bits_of_base32():
    secret = totp.new_secret()
    assert len(base64.b32decode(secret)) == 20
    assert secret != totp.new_secret()


def test_provisioning_uri_has_issuer_account_and_parameters():
    uri = totp.provisioning_uri(SECRET, "dana@example.com", "OzyOps")
    assert uri.startswith("otpauth://totp/OzyOps:dana%40example.com?")
    assert f"secret={SECRET}" in uri and "issuer=OzyOps" in uri


def test_setup_key_is_grouped_by_four():
    assert totp.grouped("ABCDEFGHIJ") == "ABCD EFGH IJ"


@pytest.mark.parametrize("offset_steps", [-1, 0, 1])
def test_previous_current_and_next_step_are_accepted(offset_steps):
    code = totp.code_at(SECRET, NOW + 30 * offset_steps)
    assert totp.matching_step(SECRET, code, NOW) == totp.step_at(NOW) + offset_steps


@pytest.mark.parametrize("offset_steps", [-2, 2])
def test_two_steps_away_is_refused(offset_steps):
    assert totp.matching_step(SECRET, totp.code_at(SECRET, NOW + 30 * offset_steps), NOW) is None


@pytest.mark.parametrize("typed", ["123 456", "123-456", " 123456 "])
def test_pasted_codes_with_spaces_or_dashes_are_cleaned(typed):
    assert totp.clean(typed) == "123456"


@pytest.mark.parametrize("typed", ["", None, "12345", "1234567", "abcdef", "12345\x00", "١٢٣٤٥٦"])
def test_malformed_codes_never_match(typed):
    assert totp.clean(typed) is None
    assert totp.matching_step(SECRET, typed, NOW) is None


@pytest.mark.parametrize("minutes", [-10, -3, 2, 5, 10])
def test_clock_hint_reports_how_far_off_the_phone_is(minutes):
    code = totp.code_at(SECRET, NOW + 60 * minutes)
    step = totp.hinted_step(SECRET, code, NOW)
    assert step == totp.step_at(NOW + 60 * minutes)
    assert totp.minutes_off(step, NOW) == minutes


def test_no_clock_hint_inside_the_window_or_beyond_ten_minutes():
    assert totp.hinted_step(SECRET, totp.code_at(SECRET, NOW + 30), NOW) is None
    assert totp.hinted_step(SECRET, totp.code_at(SECRET, NOW + 60 * 15), NOW) is None
