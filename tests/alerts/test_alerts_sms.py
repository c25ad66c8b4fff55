"""Alert subscriptions by SMS through the gateway's inbound webhook: `ALERTE <district>` in any
of the city's languages subscribes the phone, `STOP` unsubscribes it; answers come in the
keyword's language; retries change nothing; SMS reports and subscriptions never mix."""

from __future__ import annotations

import pytest
from alerts_factories import run_jobs, sent_alert
from sqlalchemy import select

import factories
from parvis.kernel.i18n import Translator
from parvis.kernel.jobs import Worker
from parvis.kernel.notify.models import OutboxMessage
from parvis.modules.alerts import sms
from parvis.modules.alerts.models import Delivery, Subscription, category_names
from parvis.modules.reports import configuration
from parvis.modules.reports.models import Report
from parvis.modules.reports.schemas import CategoryCreate


@pytest.fixture
def categories(db, city):
    """The reports categories of the city, so that SMS reports work beside alert keywords."""
    roads = factories.department(db, "roads", "Voirie")
    configuration.create_category(db, None, CategoryCreate(code="NID", name="Nid-de-poule", department_id=roads))
    configuration.create_category(db, None, CategoryCreate(code="AUTRE", name="Autre", department_id=roads))


def _inbound(client, settings, sender: str, text: str, ref: str) -> None:
    response = client.get("/api/v1/notify/sms/inbound", params={
        "token": settings.sms_inbound_token, "from": sender, "to": "1022", "text": text, "id": ref})
    assert response.status_code == 200, response.text


def _text(client, db, app, settings, sender: str, text: str, ref: str) -> None:
    _inbound(client, settings, sender, text, ref)
    Worker(db, app.state.registry).run_once()


def _replies(db, phone: str) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(OutboxMessage.body).where(OutboxMessage.recipient == phone)
                                    .order_by(OutboxMessage.id)))


def _subscriptions(db) -> list[Subscription]:
    with db.read() as session:
        return list(session.scalars(select(Subscription).order_by(Subscription.id)))


def _reports(db) -> list[Report]:
    with db.read() as session:
        return list(session.scalars(select(Report)))


def _subscribed(settings, language: str, district: str, categories: str | None = None) -> str:
    tr = Translator(language)
    return tr.gettext(sms.SUBSCRIBED, city=settings.city_name, district=district,
                      categories=categories or tr.gettext(sms.ALL_CATEGORIES), stop="STOP")


@pytest.mark.parametrize("text, language, cats", [
    ("ALERTE W", "fr", []),
    ("alerte w", "fr", []),
    ("ALERT W fire", "en", ["Fire"]),
    ("Cảnh báo W", "vi", []),
    ("canh bao w thoitiet", "vi", ["Met"]),
    ("CANHBAO W", "vi", []),
    ("ព្រមាន W", "km", []),
    ("تنبيه W", "ar", []),
    ("انذار W", "ar", []),  # إنذار written without its hamza
    ("ALERTE district w méteo", "fr", ["Met"]),  # the district by its name
])
def test_a_keyword_subscribes_the_phone_in_the_keywords_language(client, db, settings, app, city, categories,
                                                                 text, language, cats):
    _text(client, db, app, settings, "+84912347001", text, ref="in-1")
    [row] = _subscriptions(db)
    assert (row.person, row.phone, row.district_id, row.by_sms) == (
        "phone:+84912347001", "+84912347001", city.west, True)
    assert row.language == language and category_names(row.categories) == cats
    assert _replies(db, "+84912347001") == [_subscribed(settings, language, "District W", ", ".join(cats) or None)]
    assert _reports(db) == []  # a subscription is never a report


def test_the_subscribed_phone_gets_the_citys_alerts_in_its_language(client, db, settings, app, city, categories,
                                                                    registry):
    _text(client, db, app, settings, "+84912347002", "CANH BAO W", ref="in-2")
    alert_id = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    run_jobs(db, registry)
    with db.read() as session:
        delivery = session.scalars(select(Delivery).where(Delivery.alert_id == alert_id)).one()
    assert (delivery.person, delivery.channel, delivery.language) == ("phone:+84912347002", "sms", "vi")
    assert "Lũ tối nay" in _replies(db, "+84912347002")[-1]


def test_stop_unsubscribes_the_phone_from_every_sms_alert(client, db, settings, app, city, categories):
    phone = "+84912347003"
    _text(client, db, app, settings, phone, "ALERTE W", ref="in-3")
    _text(client, db, app, settings, phone, "ALERTE E", ref="in-4")
    # A person with an account, whose place is warned by SMS and e-mail, keeps the e-mail only.
    user = factories.citizen(db, settings, phone)
    with db.transaction() as session:
        session.add(Subscription(person=f"user:{user}", user_id=user, phone=phone, email="c@example.org",
                                 district_id=city.east, by_sms=True, by_email=True))
    assert len(_subscriptions(db)) == 3
    _text(client, db, app, settings, phone, "arrêt", ref="in-5")
    [kept] = _subscriptions(db)
    assert kept.user_id == user and kept.channels == ["email"] and kept.phone is None
    tr = Translator("fr")
    assert _replies(db, phone)[-1] == tr.gettext(sms.STOPPED, city=settings.city_name, keyword="ALERTE")
    _text(client, db, app, settings, phone, "STOP", ref="in-6")
    assert _replies(db, phone)[-1] == Translator("en").gettext(sms.NOT_SUBSCRIBED, city=settings.city_name,
                                                               keyword="ALERT")
    assert _reports(db) == []


def test_a_gateway_retry_changes_nothing_and_sends_nothing_twice(client, db, settings, app, city, categories):
    phone = "+84912347004"
    _text(client, db, app, settings, phone, "ALERTE W", ref="in-7")
    _inbound(client, settings, phone, "ALERTE W", ref="in-7")  # the same message: stored once
    _inbound(client, settings, phone, "alerte  w", ref="in-8")  # a retry with a new reference
    Worker(db, app.state.registry).run_once()
    assert len(_subscriptions(db)) == 1 and len(_replies(db, phone)) == 1
    _text(client, db, app, settings, phone, "STOP", ref="in-9")
    _text(client, db, app, settings, phone, "STOP", ref="in-10")
    assert _subscriptions(db) == [] and len(_replies(db, phone)) == 2
    # Later (past the window), the same command is a new one.
    later = settings.model_copy(update={"alerts_sms_repeat_minutes": 0})
    assert sms.handle(db, later, phone, "STOP") == "not-subscribed"
    assert sms.handle(db, later, phone, "ALERTE W") == "subscribed"
    assert sms.handle(db, settings, phone, "ALERTE W") == "retry"


def test_subscribing_again_changes_the_categories_of_the_same_place(client, db, settings, app, city, categories):
    phone = "+84912347005"
    _text(client, db, app, settings, phone, "ALERTE W", ref="in-11")
    _text(client, db, app, settings, phone, "ALERT W health fire", ref="in-12")
    [row] = _subscriptions(db)
    assert category_names(row.categories) == ["Fire", "Health"] and row.language == "en"
    assert len(_replies(db, phone)) == 2


@pytest.mark.parametrize("sender", ["+33612345678", "+12025550123", "BANK", "12345"])
def test_numbers_of_another_country_get_no_answer(client, db, settings, app, city, categories, sender):
    _text(client, db, app, settings, sender, "ALERTE W", ref="in-13")
    _text(client, db, app, settings, sender, "STOP", ref="in-14")
    assert _subscriptions(db) == [] and _replies(db, sender) == [] and _reports(db) == []


@pytest.mark.parametrize("text", ["ALERTE", "ALERTE ZZ", "ALERTE W bouchons", "alerte: un arbre est tombé"])
def test_a_command_that_cannot_be_read_gets_help_and_is_no_report(client, db, settings, app, city, categories,
                                                                  text):
    phone = "+84912347006"
    _text(client, db, app, settings, phone, text, ref="in-15")
    assert _subscriptions(db) == [] and _reports(db) == []
    [reply] = _replies(db, phone)
    assert reply == Translator("fr").gettext(sms.HELP, city=settings.city_name, keyword="ALERTE", codes="E, W",
                                             categories=sms.HELP_CATEGORIES["fr"], stop="STOP")


@pytest.mark.parametrize("text", ["NID W trou énorme", "Cây đổ chắn đường", "Alertes répétées de la sirène",
                                  "Stoppez le bruit"])
def test_a_report_is_not_taken_as_a_subscription(client, db, settings, app, city, categories, text):
    _text(client, db, app, settings, "+84912347007", text, ref="in-16")
    assert _subscriptions(db) == []
    assert len(_reports(db)) == 1


def test_keywords_are_settings(db, settings, city):
    custom = settings.model_copy(update={"alerts_sms_keywords": {"vi": ["BAO DONG"]},
                                         "alerts_sms_stop_keywords": {"vi": ["THOI"]}})
    assert sms.read_command("Báo động W", custom) == sms.Command("subscribe", "vi", ["w"])
    assert sms.read_command("thôi", custom) == sms.Command("stop", "vi", [])
    assert sms.read_command("ALERTE W", custom) is None
    assert sms.handle(db, custom, "+84912347008", "bao dong w") == "subscribed"
