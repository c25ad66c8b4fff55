"""Admin listing, a person's messages, and personal data export and erasure."""

from __future__ import annotations

from notify_helpers import make_settings, message
from sqlalchemy import select

from parvis.kernel import privacy
from parvis.kernel.db import Database
from parvis.kernel.notify import (
    Channel,
    FakeAdapter,
    MessageStatus,
    dispatch_due,
    enqueue,
    messages_for_user,
    recent,
    register_privacy,
)
from parvis.kernel.notify.actions import save_subscription
from parvis.kernel.notify.models import PushSubscription
from parvis.kernel.notify.privacy import ERASED, HOOK_NAME

KEYS = {"p256dh": "BP" + "A" * 85, "auth": "A" * 22}


def _seed(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        ids = {
            "anh_sms": enqueue(session, channel=Channel.SMS, to="+84901", body="Anh's code 1234",
                               user_id=1).id,
            "anh_mail": enqueue(session, channel=Channel.EMAIL, to="anh@example.org",
                                subject="Votre signalement", body="Bonjour Anh", user_id=1).id,
            "binh_sms": enqueue(session, channel=Channel.SMS, to="+84902", body="Binh's news",
                                user_id=2).id,
        }
        save_subscription(session, user_id=1, endpoint="https://push.example/anh", **KEYS)
        save_subscription(session, user_id=2, endpoint="https://push.example/binh", **KEYS)
    # Only the SMS go out; Anh's e-mail is still queued.
    dispatch_due(db, {Channel.SMS: FakeAdapter(Channel.SMS)}, make_settings())
    return ids


def test_recent_pages_newest_first(db: Database) -> None:
    ids = _seed(db)
    with db.read() as session:
        rows, total = recent(session)
        assert total == 3
        assert [r.id for r in rows] == sorted(ids.values(), reverse=True)
        sms, sms_total = recent(session, channel="sms", limit=1, offset=1)
        assert sms_total == 2 and [r.id for r in sms] == [ids["anh_sms"]]
        assert [m.id for m in messages_for_user(session, 1)] == [ids["anh_sms"], ids["anh_mail"]]


def test_export_has_only_the_persons_data(db: Database) -> None:
    _seed(db)
    register_privacy()
    with db.read() as session:
        exported = privacy.export_all(session, 1)[HOOK_NAME]
    bodies = [m["body"] for m in exported["messages"]]
    assert bodies == ["Anh's code 1234", "Bonjour Anh"]
    assert [s["endpoint"] for s in exported["push_subscriptions"]] == ["https://push.example/anh"]
    assert "Binh" not in repr(exported) and "binh" not in repr(exported)


def test_erase_blanks_messages_cancels_unsent_and_drops_subscriptions(db: Database) -> None:
    ids = _seed(db)
    register_privacy()
    with db.transaction() as session:
        privacy.erase_all(session, 1)
    sms, mail, other = (message(db, ids[k]) for k in ("anh_sms", "anh_mail", "binh_sms"))
    assert (sms.recipient, sms.body, sms.status) == (ERASED, ERASED, MessageStatus.SENT)
    assert (mail.recipient, mail.body, mail.subject) == (ERASED, ERASED, ERASED)
    assert mail.status == MessageStatus.FAILED  # never sent to an erased person
    assert (other.recipient, other.body) == ("+84902", "Binh's news")
    with db.read() as session:
        owners = list(session.scalars(select(PushSubscription.user_id)))
    assert owners == [2]
    assert dispatch_due(db, {Channel.EMAIL: FakeAdapter(Channel.EMAIL)}, make_settings()) == 0
