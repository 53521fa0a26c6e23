from decimal import Decimal

import pytest

from app.domain.errors import InvalidCustomerCode, InvalidEmail, InvalidMoney, InvalidPhoneNumber
from app.domain.values import CustomerCode, Email, Money, PhoneNumber


class TestPhoneNumber:
    def test_a_kenyan_number_without_country_code_becomes_e164(self):
        assert PhoneNumber.parse("0719 485 369").e164 == "+254719485369"

    def test_an_international_number_keeps_its_country(self):
        assert PhoneNumber.parse("+44 20 7946 0958").e164 == "+442079460958"

    @pytest.mark.parametrize("raw", ["", "hello", "12", "+254 1", "0719485369999999"])
    def test_nonsense_is_refused(self, raw):
        with pytest.raises(InvalidPhoneNumber):
            PhoneNumber.parse(raw)


class TestEmail:
    def test_emails_compare_case_insensitively(self):
        assert Email.parse("  Ada@Example.COM ") == Email.parse("ada@example.com")

    @pytest.mark.parametrize("raw", ["", "ada", "ada@", "@example.com", "a b@example.com"])
    def test_malformed_addresses_are_refused(self, raw):
        with pytest.raises(InvalidEmail):
            Email.parse(raw)


class TestMoney:
    def test_amounts_keep_two_decimal_places(self):
        assert Money.of("420", "kes") == Money(Decimal("420.00"), "KES")

    def test_money_reads_like_a_price(self):
        assert str(Money.of("1234.5", "KES")) == "KES 1,234.50"

    @pytest.mark.parametrize("amount", ["0", "-1", "0.001", "NaN", "Infinity", "1e400",
                                        "10000000000", "abc"])
    def test_impossible_amounts_are_refused(self, amount):
        with pytest.raises(InvalidMoney):
            Money.of(amount, "KES")

    def test_a_currency_is_three_letters(self):
        with pytest.raises(InvalidMoney):
            Money.of("1", "shillings")


class TestCustomerCode:
    def test_generated_codes_are_eight_capitals_or_digits(self):
        code = CustomerCode.generate().value

        assert len(code) == 8
        assert code.isalnum() and code == code.upper()

    def test_codes_differ_between_customers(self):
        assert len({CustomerCode.generate() for _ in range(1000)}) == 1000

    def test_lower_case_input_finds_the_code(self):
        assert CustomerCode.parse("ab12cd34") == CustomerCode("AB12CD34")

    @pytest.mark.parametrize("raw", ["", "ABC", "ABCDEFGHI", "AB-12-CD"])
    def test_malformed_codes_are_refused(self, raw):
        with pytest.raises(InvalidCustomerCode):
            CustomerCode.parse(raw)
