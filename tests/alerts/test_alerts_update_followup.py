"""An Update whose area shrank still reaches the people the original reached: they are told, in
their language and on the channels the original used, that the alert no longer concerns their
place; nobody is told twice, and a cancel of the Update withdraws what is still queued."""

from __future__ import annotations

import pytest
from alerts_factories import IN_EAST, IN_WEST, body, deliveries, outbox, run_jobs, sent_alert, subscriber
from sqlalchemy import select

from parvis.kernel.i18n import Translator
from parvis.kernel.jobs import Job
from parvis.kernel.notify import Channel, FakeAdapter, dispatch_due
from parvis.modules.alerts import actions, followup
from parvis.modules.alerts.models import Alert
from parvis.modules.alerts.schemas import AlertCreate

BOTH = {"description": "Ouest et Est"}
WEST_ONLY = {"description": "Ouest"}


def _update(db, settings, city, original: int, district_ids: list[int], approve: bool = True, **kwargs) -> int:
    data = AlertCreate.model_validate(body(area={"district_ids": district_ids}, **kwargs))
    update_id = actions.update_alert(db, settings, city.agent, original, data).id
    if approve:
        actions.approve(db, settings, city.supervisor, update_id)
    return update_id


@pytest.fixture
def people(db, city):
    return {"west": subscriber(db, phone="+84900000001", point=IN_WEST),
            "east_vi": subscriber(db, phone="+84900000002", point=IN_EAST, language="vi"),
            "east_mail": subscriber(db, email="east@example.org", district_id=city.east, channels=("email",))}


def test_people_outside_the_new_area_are_told_it_no_longer_concerns_them(db, settings, city, people, registry):
    original = sent_alert(db, settings, city, area={"district_ids": [city.west, city.east]})
    run_jobs(db, registry)
    assert len(deliveries(db, original)) == 3
    update = _update(db, settings, city, original, [city.west])
    run_jobs(db, registry)
    sent = {(d.person, d.channel): d for d in deliveries(db, update)}
    assert set(sent) == {("phone:+84900000001", "sms"), ("phone:+84900000002", "sms"),
                         ("email:east@example.org", "email")}
    assert not sent["phone:+84900000001", "sms"].followup  # still in the area: the update itself
    assert sent["phone:+84900000002", "sms"].followup and sent["phone:+84900000002", "sms"].language == "vi"
    assert sent["email:east@example.org", "email"].followup
    bodies = {m.recipient: m.body for m in outbox(db, update)}
    assert Translator("vi").gettext(followup.NO_LONGER) in bodies["+84900000002"]
    assert "Lũ tối nay" in bodies["+84900000002"]  # the Update's own words, in the person's language
    assert Translator("fr").gettext(followup.NO_LONGER) in bodies["east@example.org"]
    assert Translator("fr").gettext(followup.NO_LONGER) not in bodies["+84900000001"]
    assert all(m.idempotency_key.startswith(f"alert:{update}:") for m in outbox(db, update))


def test_a_rerun_sends_nothing_twice_and_a_later_update_does_not_tell_them_again(db, settings, city, people,
                                                                                registry):
    original = sent_alert(db, settings, city, area={"district_ids": [city.west, city.east]})
    run_jobs(db, registry)
    first = _update(db, settings, city, original, [city.west])
    run_jobs(db, registry)
    assert followup.fan_out(db, settings, first) == 0
    assert len(outbox(db, first)) == 3
    second = _update(db, settings, city, first, [city.west], infos=[
        {"language": "fr", "headline": "Décrue à l'ouest", "description": "", "instruction": ""}])
    run_jobs(db, registry)
    assert [(d.person, d.followup) for d in deliveries(db, second)] == [("phone:+84900000001", False)]
    # Reached again by a wider Update, then left out again: told again.
    third = _update(db, settings, city, second, [city.west, city.east])
    run_jobs(db, registry)
    assert not any(d.followup for d in deliveries(db, third)) and len(deliveries(db, third)) == 3
    fourth = _update(db, settings, city, third, [city.west])
    run_jobs(db, registry)
    assert sorted((d.person, d.followup) for d in deliveries(db, fourth)) == [
        ("email:east@example.org", True), ("phone:+84900000001", False), ("phone:+84900000002", True)]


def test_an_update_that_covers_everyone_again_tells_nobody_they_are_out(db, settings, city, people, registry):
    original = sent_alert(db, settings, city, area={"district_ids": [city.west, city.east]})
    run_jobs(db, registry)
    update = _update(db, settings, city, original, [city.west, city.east])
    run_jobs(db, registry)
    assert not any(d.followup for d in deliveries(db, update)) and len(deliveries(db, update)) == 3


def test_people_the_original_never_reached_are_not_told(db, settings, city, people, registry):
    original = sent_alert(db, settings, city, area={"district_ids": [city.west]})
    run_jobs(db, registry)
    update = _update(db, settings, city, original, [city.west], infos=[
        {"language": "fr", "headline": "Crue : la cote baisse", "description": "", "instruction": ""}])
    run_jobs(db, registry)
    assert [d.person for d in deliveries(db, update)] == ["phone:+84900000001"]


def test_the_follow_up_waits_for_the_originals_fan_out(db, settings, city, people, registry):
    original = sent_alert(db, settings, city, area={"district_ids": [city.west, city.east]})
    update = _update(db, settings, city, original, [city.west])
    with pytest.raises(followup.EarlierFanOutRunning):
        followup.fan_out(db, settings, update)
    with db.read() as session:
        job = session.scalar(select(Job).where(Job.key == f"{followup.FOLLOW_UP_JOB}:{update}"))
    assert job is not None and job.max_attempts == followup.MAX_ATTEMPTS
    run_jobs(db, registry)  # the original's fan-out runs first (it was queued first)
    assert sum(d.followup for d in deliveries(db, update)) == 2


def test_cancelling_the_update_withdraws_the_follow_ups_still_queued(db, settings, city, people, registry):
    original = sent_alert(db, settings, city, area={"district_ids": [city.west, city.east]})
    run_jobs(db, registry)
    update = _update(db, settings, city, original, [city.west])
    run_jobs(db, registry)
    actions.cancel(db, settings, city.supervisor, update)
    told = [d for d in deliveries(db, update) if d.followup]
    assert len(told) == 2 and {d.state for d in told} == {"cancelled"}
    with db.read() as session:
        assert session.get(Alert, update).state == "cancelled"


def test_left_behind_is_empty_for_anything_but_an_update(db, settings, city, people, registry):
    original = sent_alert(db, settings, city, area={"district_ids": [city.west, city.east]})
    run_jobs(db, registry)
    with db.read() as session:
        assert followup.left_behind(session, session.get(Alert, original)) == {}
    update = _update(db, settings, city, original, [city.west], approve=False)
    with db.read() as session:
        behind = followup.left_behind(session, session.get(Alert, update))
    assert sorted(behind) == ["email:east@example.org", "phone:+84900000002"]
    assert behind["phone:+84900000002"].channels == {"sms"} and behind["phone:+84900000002"].language == "vi"


def test_a_cancel_after_the_follow_ups_went_out_does_not_tell_those_people_again(db, settings, city, people,
                                                                                registry):
    original = sent_alert(db, settings, city, area={"district_ids": [city.west, city.east]})
    run_jobs(db, registry)
    update = _update(db, settings, city, original, [city.west])
    run_jobs(db, registry)
    # Everything queued goes out: the east people now know the alert no longer concerns them.
    dispatch_due(db, {Channel.SMS: FakeAdapter(Channel.SMS), Channel.EMAIL: FakeAdapter(Channel.EMAIL)}, settings)
    assert {d.state for d in deliveries(db, update) if d.followup} == {"sent"}
    cancel = actions.cancel(db, settings, city.supervisor, update)
    run_jobs(db, registry)
    told = {(d.person, d.channel) for d in deliveries(db, cancel.id)}
    assert told == {("phone:+84900000001", "sms")}  # still concerned until this cancel; the others were released


def test_a_phone_the_update_reaches_through_an_account_is_not_told_it_is_out(db, settings, city, registry):
    import factories
    from parvis.kernel.auth import Principal, Role

    subscriber(db, phone="+84912000001", point=IN_WEST)  # by SMS keyword, before having an account
    original = sent_alert(db, settings, city, area={"district_ids": [city.west, city.east]})
    run_jobs(db, registry)
    citizen_id = factories.citizen(db, settings, "+84912000001")
    subscriber(db, point=IN_EAST, channels=("sms",), actor=Principal(citizen_id, Role.CITIZEN))
    update = _update(db, settings, city, original, [city.east])
    run_jobs(db, registry)
    assert [(d.person, d.followup) for d in deliveries(db, update)] == [(f"user:{citizen_id}", False)]
    assert [m.recipient for m in outbox(db, update)] == ["+84912000001"]
