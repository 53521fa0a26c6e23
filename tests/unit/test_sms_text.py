import pytest

from app.domain.sms_text import (
    clean_text,
    first_name,
    fit_one_segment,
    fits_one_segment,
    is_gsm7,
    segments,
    septets,
    to_gsm7,
    ucs2_units,
)

# Cleaning ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "cleaned"), [
    ("Sack of maize", "Sack of maize"),
    ("Maize\nRice", "Maize Rice"),
    ("Maize\r\n\tRice", "Maize Rice"),
    ("Maize\u2028Rice\u2029Beans", "Maize Rice Beans"),
    ("Maize\x0bRice\x0cBeans\x85Tea", "Maize Rice Beans Tea"),
    ("mai\u200bze", "maize"),
    ("\u202eezi\u0430m", "ezi\u0430m"),
    ("Maize\x07", "Maize"),
    ("Maize\x1b[31m", "Maize[31m"),
    ("Maize\x00", "Maize"),
    ("\ufeffMaize", "Maize"),
    ("soft\u00adhyphen", "softhyphen"),
    ("Maize\ud800", "Maize"),
    ("Ad\u2066min\u2069", "Admin"),
    ("  Sack   of \u00a0 maize  ", "Sack of maize"),
    ("Wanjikũ's 🌽 maize", "Wanjikũ's 🌽 maize"),
    ("中文 עברית العربية हिन्दी", "中文 עברית العربية हिन्दी"),
    ("Cafe\u0301", "Cafe\u0301"),
    ("\x00\u200b\n", ""),
    ("", ""),
], ids=lambda value: ascii(value))
def test_cleaning_drops_control_and_format_characters_and_makes_breaks_spaces(raw, cleaned):
    assert clean_text(raw) == cleaned


def test_cleaning_twice_changes_nothing_more():
    raw = " a\u200b\nb\x07\tc\u202e "

    assert clean_text(clean_text(raw)) == clean_text(raw) == "a b c"


# Counting ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "count"), [
    ("Hello", 5),
    ("", 0),
    ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./", 47),
    ("0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà", 80),
    ("^{}\\[~]|€", 18),
    ("\f", 2),
    ("KES 1,000 [paid] {ok} ~50% €", 28 + 6),
], ids=lambda value: ascii(value))
def test_gsm7_text_counts_one_septet_a_character_and_two_for_the_extension_table(text, count):
    assert is_gsm7(text)
    assert septets(text) == count


@pytest.mark.parametrize("text", ["🌽", "中文", "ç", "\u2018", "…", "\u00a0", "\t", "\x00", "`"],
                         ids=ascii)
def test_a_character_outside_gsm7_has_no_septet_count(text):
    assert not is_gsm7(text)
    assert septets(text) is None


def test_ucs2_counts_utf16_code_units_so_an_emoji_counts_two():
    assert ucs2_units("中文") == 2
    assert ucs2_units("🌽") == 2
    assert ucs2_units("a🌽b") == 4


@pytest.mark.parametrize(("text", "parts"), [
    ("", 1),
    ("x" * 160, 1),
    ("x" * 161, 2),
    ("x" * 306, 2),
    ("x" * 307, 3),
    ("{" * 80, 1),
    ("{" * 81, 2),
    ("€" * 79 + "x" * 2, 1),
    ("€" * 80 + "x", 2),
], ids=lambda value: ascii(value)[:20])
def test_gsm7_takes_160_septets_in_one_segment_and_153_per_part_beyond(text, parts):
    assert segments(text) == parts


def test_an_extension_character_is_never_split_across_parts():
    # 306 septets would be two parts, but the euro cannot straddle the first boundary.
    text = "x" * 152 + "€" + "x" * 152

    assert septets(text) == 306
    assert segments(text) == 3


@pytest.mark.parametrize(("text", "parts"), [
    ("中" * 70, 1),
    ("中" * 71, 2),
    ("中" * 134, 2),
    ("中" * 135, 3),
    ("🌽" * 35, 1),
    ("🌽" * 36, 2),
    ("x" * 69 + "🌽", 2),
], ids=lambda value: ascii(value)[:20])
def test_ucs2_takes_70_units_in_one_segment_and_67_per_part_beyond(text, parts):
    assert segments(text) == parts


def test_an_emoji_makes_the_text_ucs2_with_70_per_segment():
    assert fits_one_segment("x" * 160)
    assert not fits_one_segment("x" * 69 + "🌽")
    assert fits_one_segment("x" * 68 + "🌽")


def test_an_emoji_is_never_split_across_parts():
    text = "a" * 66 + "🌽" + "a" * 66

    assert ucs2_units(text) == 134
    assert segments(text) == 3


# Transliterating ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "gsm"), [
    ("\u2018single\u2019 “double”", "'single' \"double\""),
    ("„low‟ «guillemets»", "\"low\" \"guillemets\""),
    ("2\u20133 kg \u2014 fresh", "2-3 kg - fresh"),
    ("Wait…", "Wait..."),
    ("10\u00a0kg", "10 kg"),
    ("a\tb", "a b"),
    ("áâãā àÁ", "aaaa àA"),
    ("ç Ç", "c Ç"),
    ("éèùìòäöüñÄÖÜÑÅåÆæßØøÉà", "éèùìòäöüñÄÖÜÑÅåÆæßØøÉà"),
    ("Łódź", "Lodz"),
    ("Wanjikũ", "Wanjiku"),
    ("Crème brûlée", "Crème brulée"),
    ("Cafe\u0301", "Café"),
    ("œuf Œuvre", "oeuf OEuvre"),
    ("½ bag, ﬁne", "1/2 bag, fine"),
    ("`tick\u00b4", "'tick'"),
    ("Mchele wa Pishori, gunia la kilo hamsini", "Mchele wa Pishori, gunia la kilo hamsini"),
    ("€5 [x] {y} ~z", "€5 [x] {y} ~z"),
], ids=lambda value: ascii(value)[:30])
def test_accents_and_typographic_punctuation_become_gsm7(text, gsm):
    assert to_gsm7(text) == gsm
    assert is_gsm7(gsm)


@pytest.mark.parametrize("text", ["🌽", "中文", "עברית", "हिन्दी", "❤\ufe0f", "👩🏾\u200d🌾"],
                         ids=ascii)
def test_what_has_no_gsm7_form_stays_as_it_is(text):
    assert to_gsm7(text) == text


def test_transliterating_keeps_the_gsm7_parts_of_a_mixed_text():
    assert to_gsm7("Ndizi “tamu” 🍌 \u2013 ç") == "Ndizi \"tamu\" 🍌 - c"


# Fitting one segment -----------------------------------------------------------------------

TEMPLATE = "Order AB12CD: {item}. Reply YES AB12CD when it arrives."


def test_an_item_that_fits_is_put_in_unchanged():
    assert fit_one_segment(TEMPLATE, "Sack of maize") == (
        "Order AB12CD: Sack of maize. Reply YES AB12CD when it arrives.")


def test_the_item_is_transliterated_before_it_is_put_in():
    assert fit_one_segment("Got {item}.", "“Maize” \u2013 2 bags…") == 'Got "Maize" - 2 bags....'


def test_a_long_item_is_shortened_with_three_dots_to_fill_one_segment_exactly():
    text = fit_one_segment(TEMPLATE, "x" * 200)

    assert text.startswith("Order AB12CD: xxx")
    assert text.endswith("x.... Reply YES AB12CD when it arrives.")
    assert septets(text) == 160
    assert "…" not in text


def test_shortening_counts_extension_characters_as_two():
    text = fit_one_segment("x" * 150 + "{item}", "{" * 10)

    assert text == "x" * 150 + "{{{..."
    assert segments(text) == 1


def test_shortening_does_not_leave_a_trailing_space_before_the_dots():
    text = fit_one_segment("x" * 142 + "{item}", "Sack of maize, and of rice")

    assert text == "x" * 142 + "Sack of maize,..."


def test_an_item_with_an_emoji_is_shortened_to_70_ucs2_units():
    text = fit_one_segment("Order AB12CD: {item}.", "🌽 " + "x" * 198)

    assert "🌽" in text
    assert segments(text) == 1
    assert ucs2_units(text) == 70


def test_shortening_away_an_emoji_returns_the_text_to_gsm7_and_its_160_characters():
    text = fit_one_segment("Order AB12CD: {item}.", "x" * 197 + " 🌽")

    assert is_gsm7(text)
    assert septets(text) == 160


def test_shortening_never_cuts_an_accent_off_its_letter():
    text = fit_one_segment("x" * 60 + "{item}", "🌽" + "\u05e9\u05c1" * 10)

    assert fits_one_segment(text)
    assert not text.endswith("\u05e9...")


def test_only_the_item_is_shortened_never_the_rest_of_the_template():
    for item in ["x" * 200, "🌽" * 100, "{" * 200, "中" * 200, "a 🌽 b " * 30]:
        text = fit_one_segment(TEMPLATE, item)

        assert fits_one_segment(text), item
        assert text.startswith("Order AB12CD: ")
        assert text.endswith(". Reply YES AB12CD when it arrives.")


def test_a_template_too_long_even_without_the_item_gets_the_item_cut_to_nothing():
    assert fit_one_segment("x" * 170 + " {item}", "Sack of maize") == "x" * 170 + " "


def test_another_placeholder_can_be_named():
    assert fit_one_segment("Got <>.", "Maize", placeholder="<>") == "Got Maize."


# First names -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "first"), [
    ("Wanjiku Kamau", "Wanjiku"),
    ("  Otieno  ", "Otieno"),
    ("Ann\nMarie", "Ann"),
    ("\u202eWanjiku", "Wanjiku"),
    ("W\u200banjiku Kamau", "Wanjiku"),
    ("W" * 300, "W" * 20),
    ("Wanjikũ", "Wanjikũ"),
    ("", "there"),
    ("   ", "there"),
    ("\u200b\n\x07", "there"),
], ids=lambda value: ascii(value)[:20])
def test_the_first_name_is_the_first_clean_word_at_most_20_characters(name, first):
    assert first_name(name) == first


def test_the_first_name_limit_can_be_set():
    assert first_name("Wanjiku Kamau", limit=3) == "Wan"
