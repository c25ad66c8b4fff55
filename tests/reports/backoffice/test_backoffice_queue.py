"""The department queue: scoping, filters, the map's points, overdue in words, bulk actions."""

from __future__ import annotations

from datetime import timedelta

from parvis.modules.reports.models import Report
from web_helpers import csrf_of


def _status(city, report_id: int) -> str:
    with city.db.read() as session:
        return session.get(Report, report_id).status


def test_an_agent_sees_their_department_queue_only(city):
    pothole = city.report("POTHOLE", description="Deep pothole on the main street")
    leak = city.report("LEAK", description="Water pouring from a pipe")
    roads = city.client("roads@example.org")
    page = roads.get("/admin/reports")
    assert page.status_code == 200
    assert f'href="/admin/reports/{pothole}"' in page.text
    assert f'href="/admin/reports/{leak}"' not in page.text
    assert roads.get(f"/admin/reports/{pothole}").status_code == 200
    assert roads.get(f"/admin/reports/{leak}").status_code == 403
    points = roads.get("/admin/reports/map.geojson").json()
    assert [f["id"] for f in points["features"]] == [pothole]
    assert points["features"][0]["properties"]["name"] == f"#{pothole} Pothole · New"
    # the map of the page is given the same filters as the list
    assert 'data-geojson="/admin/reports/map.geojson?status=open"' in roads.get(
        "/admin/reports?status=open").text
    admin = city.client("admin@example.org").get("/admin/reports").text
    assert f'href="/admin/reports/{pothole}"' in admin and f'href="/admin/reports/{leak}"' in admin


def test_citizens_and_visitors_cannot_open_the_back_office(city):
    report_id = city.report()
    anonymous = city.client()
    answer = anonymous.get("/admin/reports", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin")
    citizen = city.client("+84912345678")
    assert citizen.get("/admin/reports").status_code == 403
    assert citizen.get(f"/admin/reports/{report_id}").status_code == 403


def test_filters_and_overdue_shown_in_words(city):
    late = city.report()
    fresh = city.report()
    unplaced = city.report(lon=None, lat=None, address="Behind the market")
    with city.db.transaction() as session:
        report = session.get(Report, late)
        report.escalated_at = report.created_at + timedelta(hours=25)
    roads = city.client("roads@example.org")
    page = roads.get("/admin/reports?overdue=1").text
    assert f'href="/admin/reports/{late}"' in page and f'href="/admin/reports/{fresh}"' not in page
    assert "Overdue" in page
    located = roads.get("/admin/reports?to_locate=1").text
    assert f'href="/admin/reports/{unplaced}"' in located and f'href="/admin/reports/{late}"' not in located
    assert "To be located" in located
    assert "No report matches" in roads.get("/admin/reports?mine=1").text
    # unknown filter values are ignored, never a 500
    assert roads.get("/admin/reports?status=bogus&district_id=x&offset=-4").status_code == 200
    # htmx asks for the same page: the results block is there to be selected
    assert 'id="results"' in roads.get("/admin/reports", headers={"HX-Request": "true"}).text


def test_bulk_acknowledge_three_reports_and_report_the_failures(city):
    ids = [city.report() for _ in range(3)]
    leak = city.report("LEAK")
    roads = city.client("roads@example.org")
    token = csrf_of(roads, "/admin/reports")
    answer = roads.post("/admin/reports/bulk", data={
        "csrf_token": token, "action": "acknowledge", "ids": [str(i) for i in ids],
        "back": "status=open"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/admin/reports?status=open&done=bulk&ok=3")
    assert all(_status(city, i) == "acknowledged" for i in ids)
    assert "3 reports updated." in roads.get(answer.headers["location"]).text
    # again: acknowledged reports cannot be acknowledged twice; the water report is not ours
    again = roads.post("/admin/reports/bulk", data={
        "csrf_token": token, "action": "acknowledge", "ids": [str(ids[0]), str(leak), "nope"]})
    assert again.status_code == 200
    assert f"#{ids[0]} (its status does not allow this change)" in again.text
    assert f"#{leak} (not in your departments)" in again.text
    assert _status(city, leak) == "new"
    moved = roads.post("/admin/reports/bulk", data={
        "csrf_token": token, "action": "in_progress", "ids": [str(i) for i in ids]})
    assert "3 reports updated." in moved.text and all(_status(city, i) == "in_progress" for i in ids)
    mine = roads.post("/admin/reports/bulk", data={
        "csrf_token": token, "action": "assign_me", "ids": [str(ids[1])]})
    assert "1 report updated." in mine.text
    listing = roads.get("/admin/reports?mine=1").text
    assert f'href="/admin/reports/{ids[1]}"' in listing and f'href="/admin/reports/{ids[0]}"' not in listing
