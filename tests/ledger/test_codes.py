import math
import re

from ledger import codes


def test_code_has_at_least_80_bits_in_readable_groups():
    code = codes.generate_code()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", code)
    assert codes.CODE_LENGTH * math.log2(len(codes.ALPHABET)) >= 80


def test_typing_ignores_case_spaces_dashes_and_confusable_letters():
    code = "7KQ2-M9XD-4RT1-H0BN"
    expected = codes.normalise_code(code)
    assert expected == "7KQ2M9XD4RT1H0BN"
    for typed in [
        "7kq2m9xd4rt1h0bn",
        " 7KQ2 M9XD 4RT1 H0BN ",
        "7kq2-m9xd-4rtl-hobn",
        "7KQ2M9XD4RTIHOBN",
    ]:
        assert codes.normalise_code(typed) == expected


def test_not_a_code():
    assert codes.normalise_code("") is None
    assert codes.normalise_code("7KQ2-M9XD-4RT1") is None
    assert codes.normalise_code("7KQ2-M9XD-4RT1-H0BU") is None  # U is not in the alphabet


def test_stored_forms_never_contain_the_code():
    display, digest, ciphertext = codes.new_code()
    plain = display.replace("-", "")
    assert plain not in digest and plain not in ciphertext
    assert digest == codes.hash_code(plain)
    assert codes.decrypt_code(ciphertext) == display
    assert codes.encrypt_code(plain) != ciphertext  # a fresh nonce each time
