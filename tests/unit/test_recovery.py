"""Recovery keys: entropy, format, forgiving input, hashing."""

import re

from ozyops.security import recovery


def test_new_key_is_five_groups_of_five_with_125_bits():
    key = recovery.new_key()
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{5}-){4}[0-9A-HJKMNP-TV-Z]{5}", key)
    assert len(recovery.ALPHABET) ** recovery.LENGTH >= 2**125
    assert key != recovery.new_key()


def test_typed_key_ignores_case_spaces_dashes_and_lookalikes():
    key = "ABCDE-FGHJK-MNPQR-STVWX-YZ010"
    for typed in (
        "abcde fghjk mnpqr stvwx yz010",
        "ABCDEFGHJKMNPQRSTVWXYZ010",
        " abcde-fghjk-mnpqr-stvwx-yzoio ",
    ):
        assert recovery.hash_key(typed) == recovery.hash_key(key)
        assert recovery.looks_like_key(typed)


def test_hash_is_not_the_key():
    key = recovery.new_key()
    digest = recovery.hash_key(key)
    assert key.replace("-", "") not in digest and len(digest) == 64


def test_wrong_shapes_are_not_keys():
    for typed in ("", "ABC", "U" * 25, "ABCDE-FGHJK-MNPQR-STVWX-YZ0123"):
        assert not recovery.looks_like_key(typed)
