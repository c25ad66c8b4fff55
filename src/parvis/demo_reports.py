"""The demo city's citizen reports: categories, routing, an Open311 key and a few hundred
reports in every status, category and district, with their timelines. Idempotent."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from parvis.kernel.auth import Principal
from parvis.kernel.db import Database, utcnow
from parvis.kernel.errors import ParvisError
from parvis.modules.accounts import queries as accounts_queries
from parvis.modules.city import queries as city_queries
from parvis.modules.reports import actions, configuration, queries
from parvis.modules.reports.models import Report, Update
from parvis.modules.reports.schemas import CategoryCreate, ReportCreate, StatusChange
from parvis.settings import Settings

# code, name (fr), local name (vi), department code, private, attributes
CATEGORIES: list[tuple[str, str, str, str, bool, list[dict[str, Any]]]] = [
    ("NID", "Nid-de-poule", "Ổ gà", "roads", False, [
        {"code": "size", "datatype": "singlevaluelist", "required": True, "order": 1,
         "description": "Taille du trou", "values": [{"key": "small", "name": "Petit (< 30 cm)"},
                                                     {"key": "large", "name": "Grand (> 30 cm)"}]}]),
    ("TROT", "Trottoir abîmé", "Vỉa hè hư hỏng", "roads", False, []),
    ("EAU", "Fuite d'eau", "Rò rỉ nước", "water", False, [
        {"code": "flow", "datatype": "singlevaluelist", "required": False, "order": 1,
         "description": "Débit", "values": [{"key": "drip", "name": "Goutte à goutte"},
                                            {"key": "stream", "name": "Jet continu"}]}]),
    ("EGOUT", "Égout bouché", "Cống bị tắc", "water", False, []),
    ("DECH", "Dépôt sauvage de déchets", "Rác thải bừa bãi", "waste", False, []),
    ("POUB", "Poubelle pleine", "Thùng rác đầy", "waste", False, []),
    ("LAMP", "Lampadaire en panne", "Đèn đường hỏng", "lighting", False, [
        {"code": "pole", "datatype": "string", "required": False, "order": 1,
         "description": "Numéro du poteau (si visible)", "values": []}]),
    ("ARBRE", "Arbre dangereux", "Cây nguy hiểm", "environment", False, []),
    ("FEU", "Feu de circulation en panne", "Đèn giao thông hỏng", "mobility", False, []),
    ("STAT", "Stationnement gênant", "Đỗ xe sai quy định", "police", False, []),
    ("BRUIT", "Nuisance sonore", "Tiếng ồn", "police", True, []),
    ("INOND", "Inondation", "Ngập lụt", "civil-protection", False, []),
    ("AUTRE", "Autre problème", "Vấn đề khác", "roads", False, []),
]

TEXTS = {
    "NID": ["Gros trou au milieu de la chaussée, dangereux pour les motos.", "Ổ gà lớn trước cổng chợ."],
    "TROT": ["Dalles soulevées devant l'école.", "Vỉa hè bị vỡ, người đi bộ phải đi xuống lòng đường."],
    "EAU": ["L'eau coule depuis ce matin au coin de la rue.", "Ống nước bị vỡ, nước chảy ra đường."],
    "EGOUT": ["Odeur forte et eau stagnante après la pluie.", "Cống bị tắc, nước không thoát được."],
    "DECH": ["Sacs d'ordures abandonnés près du canal.", "Có người đổ rác xây dựng bên bờ sông."],
    "POUB": ["Conteneur plein depuis trois jours.", "Thùng rác tràn ra vỉa hè."],
    "LAMP": ["Le lampadaire ne s'allume plus la nuit.", "Đèn đường tắt cả tuần nay, rất tối."],
    "ARBRE": ["Branche cassée qui pend au-dessus du trottoir.", "Cây nghiêng sau bão, có thể đổ."],
    "FEU": ["Le feu reste au rouge dans les deux sens.", "Đèn giao thông ở ngã tư không hoạt động."],
    "STAT": ["Voitures garées sur le passage piéton tous les soirs.", "Xe máy đỗ chắn lối vào hẻm."],
    "BRUIT": ["Karaoké très fort après minuit.", "Tiếng ồn từ công trường vào ban đêm."],
    "INOND": ["La rue est inondée après chaque averse.", "Nước ngập đến đầu gối sau mưa lớn."],
    "AUTRE": ["Panneau de signalisation tombé.", "Ghế đá công viên bị gãy."],
}


def create_demo_reports(db: Database, settings: Settings, count: int = 400, seed: int = 5) -> dict[str, int]:
    with db.read() as session:
        existing = session.scalar(select(func.count()).select_from(Report)) or 0
        departments = {d.code: d.id for d in city_queries.departments(session)}
        districts = city_queries.districts(session)
        known = {c.code for c in queries.categories(session, active_only=False)}
    for code, name, local, dep, private, attributes in CATEGORIES:
        if code not in known:
            configuration.create_category(db, None, CategoryCreate(
                code=code, name=name, name_local=local, department_id=departments[dep], private=private,
                sla_ack_hours=48 if dep != "civil-protection" else 4,
                sla_resolve_hours=24 * (14 if dep != "civil-protection" else 2),
                nearby_radius_m=150, attributes=attributes))  # type: ignore[arg-type]
    configuration.issue_api_key(db, None, "Demo Open311 client", settings.demo_open311_key)
    if existing >= count:
        return {"reports_created": 0}
    rng = random.Random(seed)
    with db.read() as session:
        citizens, _total = accounts_queries.users(session, role="citizen", limit=200)
        staff_by_department: dict[int, Principal] = {}
        for department_id in departments.values():
            members, _n = accounts_queries.staff(session, department_id=department_id, limit=10)
            agent = next((m for m in members if m.role == "agent"), None)
            if agent is not None:
                staff_by_department[department_id] = accounts_queries.principal_for(agent)
        cats = queries.categories(session)
    from parvis.kernel import geo

    areas = [geo.loads(d.geometry) for d in districts]
    created = 0
    now = utcnow()
    for n in range(existing, count):
        category = rng.choice(cats)
        area = rng.choice(areas)
        minx, miny, maxx, maxy = area.bounds
        while True:
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if area.contains(geo.parse_point(lon, lat)):
                break
        answers = {}
        for attribute in category.attributes:
            if attribute["values"]:
                answers[attribute["code"]] = rng.choice(attribute["values"])["key"]
        citizen = citizens[n % len(citizens)] if citizens else None
        actor = accounts_queries.principal_for(citizen) if citizen else None
        data = ReportCreate(category=category.code, description=rng.choice(TEXTS[category.code]),
                            lon=round(lon, 6), lat=round(lat, 6), attributes=answers,
                            contact_channel="sms", show_name=rng.random() < 0.2)
        try:
            report = actions.create_report(db, settings, actor, data,
                                           source=rng.choice(["web", "web", "sms"]))
        except ParvisError:
            continue
        created += 1
        age = timedelta(days=min(120.0, rng.expovariate(1 / 12)))  # most reports are recent
        _backdate(db, report.id, now - age)
        agent = staff_by_department.get(report.department_id)
        if agent is None:
            continue
        _walk(db, settings, agent, report.id, rng, now - age)
    while actions.escalate_overdue(db, settings):  # flag what is late, as the worker would
        pass
    return {"reports_created": created}


def _walk(db: Database, settings: Settings, agent: Principal, report_id: int, rng: random.Random,
          created: Any) -> None:
    """Move a report along the workflow the way a department would, at plausible times."""
    path = rng.choices(
        [[], ["acknowledged"], ["acknowledged", "in_progress"], ["acknowledged", "in_progress", "resolved"],
         ["acknowledged", "resolved", "closed"], ["rejected"]], weights=[15, 20, 20, 25, 12, 8])[0]
    at = created
    comments = {"acknowledged": "Signalement pris en compte, une équipe va passer.",
                "in_progress": "Intervention programmée cette semaine.",
                "resolved": "Réparation effectuée. Merci pour votre signalement.",
                "closed": "", "rejected": "Ce problème relève d'un service de l'État."}
    for status in path:
        at = at + timedelta(hours=rng.uniform(2, 96))
        change = StatusChange(status=status, comment=comments[status],  # type: ignore[arg-type]
                              reject_reason="not_city" if status == "rejected" else None,
                              referred_to="Direction provinciale des routes" if status == "rejected" else "")
        try:
            actions.change_status(db, settings, agent, report_id, change)
        except ParvisError:
            return
        _backdate_last_update(db, report_id, status, at)


def _backdate(db: Database, report_id: int, when: Any) -> None:
    with db.transaction() as session:
        report = session.get(Report, report_id)
        shift = report.created_at - when
        report.created_at = when
        report.updated_at = when
        report.due_ack_at = report.due_ack_at - shift if report.due_ack_at else None
        report.due_resolve_at = report.due_resolve_at - shift if report.due_resolve_at else None
        for update in session.scalars(select(Update).where(Update.report_id == report_id)):
            update.at = when


def _backdate_last_update(db: Database, report_id: int, status: str, when: Any) -> None:
    with db.transaction() as session:
        report = session.get(Report, report_id)
        last = session.scalars(select(Update).where(Update.report_id == report_id)
                               .order_by(Update.id.desc())).first()
        if last is not None:
            last.at = when
        report.updated_at = when
        if status in ("acknowledged", "in_progress") or report.acknowledged_at:
            report.acknowledged_at = min(report.acknowledged_at or when, when)
        if status == "resolved":
            report.resolved_at = when
        if status == "closed":
            report.closed_at = when
