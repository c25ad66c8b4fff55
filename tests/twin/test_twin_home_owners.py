"""Roof thermography levels and who may see them: the twin's roofs are classified from the imported
thermography raster, the city's admins link owners to buildings (audit-logged), a signed-in owner
sees their house's level on "My home", and the visibility policy (owner / staff / public) decides
who else sees a given house's level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from rasterio.features import rasterize
from shapely.geometry import mapping
from sqlalchemy import select

import factories
from factories import PASSWORD
from parvis.demo import CITIZEN_PHONE
from parvis.kernel import audit
from parvis.kernel.db import Database
from parvis.kernel.i18n import Translator
from parvis.modules.twin import actions, home_service, owners, provision_demo, queries
from parvis.modules.twin.grid import write_geotiff
from parvis.modules.twin.models import Building
from parvis.modules.twin.owner_models import BuildingOwner
from parvis.settings import Settings
from web_helpers import csrf_of, sign_in

FR = Translator("fr")
OWNER, NEIGHBOUR, AGENT = "+84912345678", "+84912345679", "agent@example.org"


def _twin(db: Database, settings: Settings) -> None:
    provision_demo(db, settings, size=(300.0, 200.0), buildings=60)


def test_roofs_are_classified_from_the_thermography_layer(db: Database, settings: Settings) -> None:
    _twin(db, settings)
    data_dir = Path(settings.data_dir)
    with pytest.raises(home_service.NoThermography):
        home_service.classify_thermography(db, data_dir)
    with db.read() as session:
        dtm = queries.load_grid(session, data_dir, "dtm")
        rows = session.execute(select(Building.id, Building.footprint_local).order_by(Building.id)).all()
    # Each roof is as warm as its rank in a shuffled order, so the levels are known: 1 + 6 * rank // n.
    rank = {building_id: r for r, building_id in enumerate(np.random.default_rng(3).permutation(
        [b for b, _fp in rows]).tolist())}
    import json

    from shapely.geometry import shape

    labels = rasterize([(mapping(shape(json.loads(fp))), b) for b, fp in rows], out_shape=dtm.shape,
                       transform=dtm.transform, fill=0, dtype="int32")
    values = np.full(dtm.shape, -5.0, dtype=np.float32)
    lookup = np.zeros(int(labels.max()) + 1, dtype=np.float32)
    for building_id, r in rank.items():
        lookup[building_id] = float(r)
    values[labels > 0] = lookup[labels[labels > 0]]
    values[0, :10] = 40.0  # hot ground pixels outside any roof change nothing
    grid = dtm.with_values(values)
    path = write_geotiff(grid, data_dir / "twin" / "thermography.tif")
    actions.store_layer(db, "thermography", path, data_dir, grid, source="test")

    counts = home_service.classify_thermography(db, data_dir)

    n = len(rows)
    assert counts["buildings"] == n == 60 and counts["classified"] == n and counts["unknown"] == 0
    assert [counts[f"level_{k}"] for k in range(1, 7)] == [10] * 6
    with db.read() as session:
        stored = dict(session.execute(select(Building.id, Building.heat_loss_level)).all())
    assert stored == {b: 1 + 6 * r // n for b, r in rank.items()}


VISIBLE = {  # policy -> which viewers see a house's level
    "owner": {"owner"},
    "staff": {"owner", "staff"},
    "public": {"owner", "staff", "neighbour", "anonymous"},
}


def _viewer(app, who: str | None) -> TestClient:
    """A browser of its own (its own cookies) on the running app, signed in as ``who``."""
    viewer = TestClient(app, raise_server_exceptions=False)
    if who is not None:
        sign_in(viewer, who, PASSWORD)
    return viewer


def test_the_visibility_policy_decides_who_sees_a_house_level(client: TestClient, db: Database,
                                                              settings: Settings) -> None:
    _twin(db, settings)
    owner_id = factories.citizen(db, settings, OWNER)
    factories.citizen(db, settings, NEIGHBOUR)
    factories.staff(db, settings, AGENT, role="agent")
    with db.read() as session:
        house, other = session.scalars(select(Building.id).order_by(Building.id).limit(2)).all()
    actions.set_heat_loss_levels(db, {house: 5, other: 2})
    owners.link_quietly(db, house, owner_id)
    viewers = {"owner": _viewer(client.app, OWNER), "neighbour": _viewer(client.app, NEIGHBOUR),
               "staff": _viewer(client.app, AGENT), "anonymous": client}
    level_line = 'class="home-level" data-level="5"'
    for policy, allowed in VISIBLE.items():
        client.app.state.settings = settings.model_copy(update={"twin_thermography_visibility": policy})
        for viewer, browser in viewers.items():
            html = browser.get(f"/twin/home?building={house}").text
            assert (level_line in html) == (viewer in allowed), (policy, viewer)
            assert (FR.gettext("level %(level)s of 6", level=5) in html) == (viewer in allowed)
            assert 'action="/twin/home"' in html  # the estimate form is there for everyone all the same
        # The owner's own page lists their house with its level whatever the policy; the neighbour's
        # lists nothing; anonymous visitors are sent to sign in.
        mine = viewers["owner"].get("/twin/home/mine").text
        assert f'href="/twin/home?building={house}"' in mine and 'data-level="5"' in mine
        assert f'building={other}"' not in mine
        assert 'data-level=' not in viewers["neighbour"].get("/twin/home/mine").text
        response = client.get("/twin/home/mine", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/signin")


def test_an_admin_links_and_unlinks_an_owner_with_audit_entries(client: TestClient, db: Database,
                                                                settings: Settings) -> None:
    _twin(db, settings)
    owner_id = factories.citizen(db, settings, OWNER)
    factories.staff(db, settings, "admin@example.org", role="admin")
    with db.read() as session:
        ref, address, building_id = session.execute(
            select(Building.ref, Building.address, Building.id).order_by(Building.id)).first()
    actions.set_heat_loss_levels(db, {building_id: 6})

    owner = _viewer(client.app, OWNER)
    assert owner.get("/twin/owners").status_code == 403  # a citizen cannot link themselves
    assert 'data-level=' not in owner.get("/twin/home/mine").text

    sign_in(client, "admin@example.org", PASSWORD)
    token = csrf_of(client, "/twin/owners")
    response = client.post("/twin/owners", data={"building": ref, "identifier": "0912345678",
                                                 "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert ref in page and OWNER in page
    # Errors are sentences on the form, not stack traces.
    unknown = client.post("/twin/owners", data={"building": "no-such-building", "identifier": OWNER,
                                                "csrf_token": token})
    assert unknown.status_code == 404 and FR.gettext(owners.BuildingNotFound.title) in unknown.text
    nobody = client.post("/twin/owners", data={"building": address, "identifier": "nobody@example.org",
                                               "csrf_token": token})
    assert nobody.status_code == 422 and FR.gettext(owners.AccountNotFound.title) in nobody.text
    twice = client.post("/twin/owners", data={"building": ref, "identifier": OWNER, "csrf_token": token})
    assert twice.status_code == 409

    with db.read() as session:
        link_id = session.scalar(select(BuildingOwner.id).where(BuildingOwner.user_id == owner_id))
        entries, _total = audit.entries(session, action="twin.owner_linked")
    assert len(entries) == 1 and entries[0].object_id == str(building_id)
    assert entries[0].changes == {"building_ref": ref, "user_id": owner_id}

    assert 'data-level="6"' in owner.get("/twin/home/mine").text

    removed = client.post(f"/twin/owners/{link_id}/remove", data={"csrf_token": token}, follow_redirects=False)
    assert removed.status_code == 303
    with db.read() as session:
        assert session.scalar(select(BuildingOwner.id)) is None
        entries, _total = audit.entries(session, action="twin.owner_unlinked")
    assert len(entries) == 1 and entries[0].changes["user_id"] == owner_id
    assert 'data-level=' not in owner.get("/twin/home/mine").text


def test_the_demo_citizen_owns_a_house_with_a_high_level(client: TestClient, db: Database,
                                                         settings: Settings) -> None:
    _twin(db, settings)
    assert home_service.DEMO_CITIZEN_PHONE == CITIZEN_PHONE
    factories.citizen(db, settings, CITIZEN_PHONE)
    building_id = home_service.link_demo_owner(db, settings)
    assert building_id is not None
    assert home_service.link_demo_owner(db, settings) == building_id  # running the demo again adds nothing
    with db.read() as session:
        assert len(session.scalars(select(BuildingOwner)).all()) == 1
        level = session.scalar(select(Building.heat_loss_level).where(Building.id == building_id))
        levels = session.scalars(select(Building.heat_loss_level)).all()
    assert level in (5, 6)
    assert sorted({v for v in levels if v is not None}) == [1, 2, 3, 4, 5, 6]
    sign_in(client, CITIZEN_PHONE, PASSWORD)
    mine = client.get("/twin/home/mine").text
    assert f'data-level="{level}"' in mine and f"/twin/home?building={building_id}" in mine
