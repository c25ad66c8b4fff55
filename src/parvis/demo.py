"""The demo city, Sông Xanh: districts, departments, agents and citizens. Idempotent.

Every write goes through the modules' actions, as a real administrator's would.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from parvis.kernel.db import Database
from parvis.modules.accounts import actions as accounts
from parvis.modules.accounts.schemas import StaffCreate
from parvis.modules.city import actions as city
from parvis.modules.city import queries as city_queries
from parvis.modules.city.schemas import DepartmentCreate
from parvis.settings import Settings

CENTER = (107.585, 16.463)  # lon, lat of the fictional city (central Vietnam)

DISTRICTS = [
    ("CIT", "Vieille Citadelle", "Thành Cổ", 41200),
    ("NOR", "Rive Nord", "Bờ Bắc", 38650),
    ("SUD", "Rive Sud", "Bờ Nam", 45100),
    ("MAR", "Quartier du Marché", "Phường Chợ", 29800),
    ("JAR", "Les Jardins", "Vườn Xanh", 22400),
    ("POR", "Port Fluvial", "Bến Sông", 18750),
    ("PIN", "Colline des Pins", "Đồi Thông", 12300),
    ("UNI", "Quartier Universitaire", "Phường Đại Học", 33900),
    ("IND", "Zone Industrielle", "Khu Công Nghiệp", 9600),
    ("PEC", "Village des Pêcheurs", "Làng Chài", 7450),
]

DEPARTMENTS = [
    ("roads", "roads", "Voirie", "Giao thông đường bộ"),
    ("water", "water", "Eau et assainissement", "Cấp thoát nước"),
    ("waste", "waste", "Propreté et déchets", "Vệ sinh môi trường"),
    ("lighting", "lighting", "Éclairage public", "Chiếu sáng công cộng"),
    ("environment", "environment", "Environnement et espaces verts", "Môi trường và cây xanh"),
    ("mobility", "mobility", "Mobilité et stationnement", "Giao thông và bãi đỗ xe"),
    ("police", "police", "Police municipale", "Cảnh sát trật tự đô thị"),
    ("civil-protection", "civil_protection", "Protection civile", "Phòng chống thiên tai"),
]

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
MIDDLE = ["Văn", "Thị", "Minh", "Ngọc", "Quang", "Thanh", "Hữu", "Đức"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hùng", "Khánh", "Lan", "Linh",
         "Long", "Mai", "Nam", "Nga", "Phúc", "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vy"]
FOREIGN = ["Camille Martin", "Julien Dubois", "Sokha Chea", "Dara Sok", "Amina Benali",
           "Youssef El Amrani", "Emily Carter", "Lucas Bernard"]

ADMIN_EMAIL = "admin@demo.parvis.city"
CITIZEN_PHONE = "+84912000001"


def district_grid(seed: int = 7) -> list[dict[str, Any]]:
    """Ten districts that tile the city without gaps: a 5 x 2 grid with wobbly shared edges."""
    rng = random.Random(seed)
    cols, rows, step_x, step_y = 5, 2, 0.018, 0.02
    x0, y0 = CENTER[0] - cols * step_x / 2, CENTER[1] - rows * step_y / 2
    vertex = {}
    for i in range(cols + 1):
        for j in range(rows + 1):
            inner = 0 < i < cols and 0 < j < rows
            jitter = 0.004 if inner else 0.0
            vertex[i, j] = (round(x0 + i * step_x + rng.uniform(-jitter, jitter), 6),
                            round(y0 + j * step_y + rng.uniform(-jitter, jitter), 6))

    def edge(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[float, float]]:
        # a midpoint nudged the same way for both neighbours, so edges stay shared
        (ax, ay), (bx, by) = vertex[a], vertex[b]
        key = tuple(sorted([a, b]))
        nudge = random.Random(hash(key) & 0xFFFF).uniform(-0.0015, 0.0015)
        outer = (a[0] == b[0] and a[0] in (0, cols)) or (a[1] == b[1] and a[1] in (0, rows))
        mx, my = (ax + bx) / 2, (ay + by) / 2
        if not outer:
            if a[0] == b[0]:
                mx += nudge
            else:
                my += nudge
        return [vertex[a], (round(mx, 6), round(my, 6))]

    features = []
    for index, (code, name, local, population) in enumerate(DISTRICTS):
        i, j = index % cols, index // cols
        corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
        ring: list[tuple[float, float]] = []
        for k in range(4):
            ring += edge(corners[k], corners[(k + 1) % 4])
        ring.append(ring[0])
        features.append({"type": "Feature",
                         "properties": {"code": code, "name": name, "name_local": local,
                                        "population": population},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return features


def demo_citizens(count: int, seed: int = 11) -> list[dict[str, str]]:
    rng = random.Random(seed)
    languages = ["vi"] * 6 + ["fr", "en", "km", "ar"]
    people = [{"phone": CITIZEN_PHONE, "name": "Nguyễn Thị Lan", "language": "fr"}]
    for n in range(2, count + 1):
        name = (rng.choice(FOREIGN) if rng.random() < 0.05 else
                f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}")
        people.append({"phone": f"+84912{n:06d}", "name": name, "language": rng.choice(languages)})
    return people


def create_demo_city(db: Database, settings: Settings,
                     progress: Callable[[str, int], Callable[[int], None]] | None = None) -> dict[str, int]:
    """Create (or complete) the demo city. Safe to run again: nothing is duplicated."""
    step = progress or (lambda _label, _total: (lambda _n: None))
    features = district_grid()
    created, updated = city.import_districts(
        db, None, {"type": "FeatureCollection", "features": features},
        progress=step("districts", len(features)))
    with db.read() as session:
        for code, _name, _local, population in DISTRICTS:
            district = city_queries.district_by_code(session, code)
            if district is not None and district.population != population:
                from parvis.modules.city.schemas import DistrictUpdate

                city.update_district(db, None, district.id, DistrictUpdate(population=population))  # type: ignore[arg-type]
    dep_ids: dict[str, int] = {}
    tick = step("departments", len(DEPARTMENTS))
    for code, kind, name, local in DEPARTMENTS:
        with db.read() as session:
            existing = city_queries.department_by_code(session, code)
        if existing is None:
            existing = city.create_department(db, None, DepartmentCreate(
                code=code, kind=kind, name=name, name_local=local,
                email=f"{code}@demo.parvis.city", phone=""))
        dep_ids[code] = existing.id
        tick(1)
    password = settings.demo_password
    staff = [StaffCreate(display_name="Administratrice Parvis", email=ADMIN_EMAIL, role="admin",
                         password=password, all_departments=True)]
    for code, _kind, name, _local in DEPARTMENTS:
        staff.append(StaffCreate(display_name=f"Superviseur·e {name}", role="supervisor",
                                 email=f"{code}.supervisor@demo.parvis.city", password=password,
                                 department_ids=[dep_ids[code]]))
        staff.append(StaffCreate(display_name=f"Agent {name}", role="agent",
                                 email=f"{code}.agent@demo.parvis.city", password=password,
                                 department_ids=[dep_ids[code]]))
    tick = step("agents", len(staff))
    new_staff = 0
    for member in staff:
        if not accounts.staff_exists(db, member.email or ""):
            accounts.create_staff(db, None, settings, member)
            new_staff += 1
        tick(1)
    people = demo_citizens(settings.demo_citizens)
    citizens = accounts.seed_citizens(db, settings, people, password,
                                      progress=step("citizens", len(people)))
    from parvis.demo_reports import create_demo_reports

    reports = create_demo_reports(db, settings, count=settings.demo_reports)
    from parvis.demo_alerts import create_demo_alerts
    from parvis.modules import sensors

    # The NGSI-LD client's key (read and write) given in the README: issuing it again is a no-op.
    sensors.issue_api_key(db, "Demo NGSI-LD client", settings.demo_ngsi_key, read=True, write=True)
    devices = sensors.provision_demo(db, settings, history_hours=settings.demo_sensor_hours)
    devices += sensors.provision_demo_parking(db, settings, history_hours=settings.demo_sensor_hours)
    from parvis.modules import twin

    size = (settings.twin_demo_width_m, settings.twin_demo_height_m)
    twin_counts = twin.provision_demo(db, settings, size=size, buildings=settings.twin_demo_buildings)
    # a house of the demo citizen, with the demo's (generated) roof thermography
    twin_counts["owned_building"] = 1 if twin.link_demo_owner(db, settings) is not None else 0
    twin.request_solar_run(db)  # the worker computes every roof's solar potential (about 15 s)
    return {"sensor_devices": devices, "districts_created": created, "districts_updated": updated,
            "departments": len(dep_ids), "staff_created": new_staff, "citizens_created": citizens,
            **reports, **create_demo_alerts(db, settings),
            **{f"twin_{name}": count for name, count in twin_counts.items()}}
