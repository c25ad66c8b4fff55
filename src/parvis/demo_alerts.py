"""The demo city's crisis alerts: one active flood ``Exercise`` on the river districts, composed
by the civil protection agent and approved by its supervisor, and the demo citizen subscribed to
the fishing village as a tester, so the CAP feed and the pages show something. Idempotent."""

from __future__ import annotations

from datetime import timedelta

from parvis.demo import CITIZEN_PHONE
from parvis.kernel.db import Database, utcnow
from parvis.modules.accounts import queries as accounts_queries
from parvis.modules.alerts import actions
from parvis.modules.alerts import queries as alerts_queries
from parvis.modules.alerts.schemas import AlertCreate, SubscriptionCreate
from parvis.modules.city import queries as city_queries
from parvis.settings import Settings

DEPARTMENT = "civil-protection"
DISTRICTS = ("POR", "PEC")  # the river port and the fishing village

INFOS = [
    {"language": "fr", "headline": "Exercice : crue de la rivière sur le port et le village des pêcheurs",
     "description": "Exercice de la protection civile. Aucune crue réelle n’est en cours : la ville teste "
                    "l’envoi des alertes aux habitants des berges.",
     "instruction": "Aucune action n’est nécessaire. Vérifiez que vous recevez ce message et notez sur "
                    "quel canal."},
    {"language": "vi", "headline": "Diễn tập: lũ sông tại Bến Sông và Làng Chài",
     "description": "Diễn tập phòng chống thiên tai. Hiện không có lũ thật: thành phố thử gửi cảnh báo "
                    "cho người dân ven sông.",
     "instruction": "Không cần làm gì. Hãy kiểm tra bạn đã nhận được tin này và qua kênh nào."},
    {"language": "en", "headline": "Exercise: river flood at the river port and the fishing village",
     "description": "Civil protection exercise. No real flood is happening: the city is testing alerts "
                    "to people living on the river banks.",
     "instruction": "No action needed. Check that you receive this message and on which channel."},
]


def create_demo_alerts(db: Database, settings: Settings) -> dict[str, int]:
    """Send the demo exercise unless one is still active; subscribe the demo citizen once."""
    with db.read() as session:
        if alerts_queries.active(session, statuses=("Exercise",), limit=1):
            return {"alerts_created": 0}
        department = city_queries.department_by_code(session, DEPARTMENT)
        districts = [d.id for code in DISTRICTS if (d := city_queries.district_by_code(session, code))]
        if department is None or not districts:
            return {"alerts_created": 0}
        members, _total = accounts_queries.staff(session, department_id=department.id, limit=10)
        agent = next((m for m in members if m.role == "agent"), None)
        supervisor = next((m for m in members if m.role == "supervisor"), None)
        citizens, _n = accounts_queries.users(session, role="citizen", search=CITIZEN_PHONE, limit=1)
        if agent is None or supervisor is None:
            return {"alerts_created": 0}
        author = accounts_queries.principal_for(agent)
        approver = accounts_queries.principal_for(supervisor)
        citizen = accounts_queries.principal_for(citizens[0]) if citizens else None
        subscribed = bool(citizen and alerts_queries.subscriptions_of(session, citizen.user_id))  # type: ignore[arg-type]
    if citizen is not None and not subscribed:
        actions.subscribe(db, citizen, SubscriptionCreate(label="Maison", district_id=districts[-1],
                                                          channels=["sms"], tester=True))
    data = AlertCreate(status="Exercise", event="Crue (exercice)", categories=["Met", "Safety"],
                       response_types=["Monitor"], urgency="Expected", severity="Moderate",
                       certainty="Possible", contact="Protection civile, 1022",
                       expires=utcnow() + timedelta(days=30), infos=INFOS,  # type: ignore[arg-type]
                       area={"description": "Port Fluvial, Village des Pêcheurs",  # type: ignore[arg-type]
                             "district_ids": districts})
    alert = actions.compose(db, settings, author, data)
    actions.approve(db, settings, approver, alert.id)
    return {"alerts_created": 1}
