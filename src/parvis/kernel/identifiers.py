"""Reading what a person types to identify or reach themselves: a phone number or an e-mail
(accounts, and reports from people without an account)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from parvis.kernel.errors import N_, InvalidPhone, ValidationFailed

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,185}\.[^@\s.]{2,63}$")


@dataclass(frozen=True)
class Identifier:
    kind: str  # "phone" | "email"
    value: str  # E.164 phone or lower-case e-mail


def normalise_phone(raw: str, region: str, *, field: str | None = None) -> str:
    """The E.164 form of a valid number (``field``: the form field an error names)."""
    errors = [{"field": field, "code": "invalid_phone"}] if field else None
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(N_("This phone number is not valid."), errors=errors) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(N_("This phone number is not valid."), errors=errors)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_country(phone: str) -> str | None:
    """The region code (``VN``...) of an E.164 number."""
    return phonenumbers.region_code_for_number(phonenumbers.parse(phone))


def normalise_email(raw: str, *, field: str = "email") -> str:
    value = raw.strip().lower()
    if not EMAIL_RE.match(value):
        raise ValidationFailed(N_("This e-mail address is not valid."),
                               errors=[{"field": field, "code": "invalid_email"}])
    return value


def parse_identifier(raw: str, region: str) -> Identifier:
    raw = (raw or "").strip()
    if not raw:
        raise ValidationFailed(N_("Enter a phone number or an e-mail address."),
                               errors=[{"field": "identifier", "code": "missing"}])
    if "@" in raw:
        return Identifier("email", normalise_email(raw))
    return Identifier("phone", normalise_phone(raw, region))


def mask(identifier: str) -> str:
    """What we show back ("+84 •••• 567"), so a shoulder-surfer learns little."""
    if "@" in identifier:
        name, _at, domain = identifier.partition("@")
        return name[:1] + "•••@" + domain
    return identifier[:3] + " •••• " + identifier[-3:]


@dataclass(frozen=True)
class PhoneExample:
    local: str
    international: str


def phone_example(region: str) -> PhoneExample:
    """A mobile number of the city's country, written the two ways people may type it."""
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if number is None:
        return PhoneExample("", "")
    return PhoneExample(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
    )
