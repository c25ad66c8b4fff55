"""Ready-made alerts for the hazards a city warns about most often: choosing one pre-fills the
compose form (event, CAP codes, how long it lasts, and the text in every language whose catalogue
translates it). The texts are gettext messages, so the city's translators keep them; the person
composing always reads and completes them before the alert is approved."""

from __future__ import annotations

from dataclasses import dataclass

from parvis.kernel.errors import N_
from parvis.kernel.i18n import Translator


@dataclass(frozen=True)
class Hazard:
    key: str
    label: str  # gettext message: the template's name in the menu
    event: str  # gettext message: CAP ``event``
    categories: tuple[str, ...]
    response_types: tuple[str, ...]
    urgency: str
    severity: str
    certainty: str
    hours: int  # how long the alert lasts by default
    headline: str  # gettext messages, translated per language block
    description: str
    instruction: str


HAZARDS: dict[str, Hazard] = {h.key: h for h in (
    Hazard("flood", N_("Flood"), N_("Flood"), ("Met", "Safety"), ("Evacuate", "Prepare"),
           "Expected", "Severe", "Likely", 24,
           N_("Flood warning: the river is rising"),
           N_("The river is expected to overflow in the area shown. Ground floors and low streets may be "
              "flooded."),
           N_("Move people, valuables and vehicles to higher ground. Do not walk or drive through flood "
              "water. Follow the instructions of the emergency services.")),
    Hazard("storm", N_("Storm"), N_("Storm"), ("Met",), ("Shelter", "Prepare"),
           "Expected", "Severe", "Likely", 24,
           N_("Storm warning: strong winds and heavy rain"),
           N_("A storm with strong winds and heavy rain is expected in the area shown."),
           N_("Stay indoors and away from windows. Secure loose objects outside. Avoid trees and power "
              "lines. Charge your phone.")),
    Hazard("heat", N_("Heat wave"), N_("Heat wave"), ("Met", "Health"), ("Prepare",),
           "Expected", "Moderate", "Likely", 72,
           N_("Heat wave: very high temperatures expected"),
           N_("Very high temperatures are expected in the coming days, including at night."),
           N_("Drink water often, stay in the shade or in cool places during the hottest hours, and check "
              "on elderly neighbours, young children and sick people.")),
    Hazard("water", N_("Water cut"), N_("Water supply interruption"), ("Infra",), ("Prepare",),
           "Expected", "Minor", "Observed", 12,
           N_("Water cut in your area"),
           N_("The water supply is interrupted in the area shown while the network is repaired."),
           N_("Store drinking water before the cut. Boil tap water for one minute when the supply returns.")),
    Hazard("epidemic", N_("Epidemic"), N_("Epidemic"), ("Health",), ("Prepare", "Monitor"),
           "Expected", "Moderate", "Likely", 168,
           N_("Health alert: epidemic in the area"),
           N_("Cases of a contagious disease are increasing in the area shown."),
           N_("Wash your hands often, avoid crowded places, and see a doctor if you have a fever. Follow the "
              "advice of the health services.")),
)}


def translated(text: str, language: str) -> str | None:
    """A template text in ``language``, or None when its catalogue does not translate it (English,
    the language of the messages, is always available)."""
    done = Translator(language).gettext(text)
    return done if language == "en" or done != text else None
