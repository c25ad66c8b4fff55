"""One report's page: the workflow through the forms, notes that stay internal, transfers,
rejection, moderation, locating a report, and the reporter told of every public change."""

from __future__ import annotations

from sqlalchemy import func, select

from parvis.kernel.notify.models import OutboxMessage
from parvis.modules.reports.models import Report
from web_helpers import csrf_of


def _messages(city) -> int:
    with city.db.read() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.user_id == city.citizen_id, OutboxMessage.purpose == "reports.update"))


def _report(city, report_id: int) -> Report:
    with city.db.read() as session:
        return session.get(Report, report_id)


def test_acknowledge_then_in_progress_then_resolve_tells_the_reporter_each_time(city):
    report_id = city.report()
    assert _messages(city) == 1  # "received"
    roads = city.client("roads@example.org")
    page = roads.get(f"/admin/reports/{report_id}")
    assert "+84912345678" in page.text  # the reporter's contact details, for staff only
    token = csrf_of(roads, f"/admin/reports/{report_id}")
    for n, status in enumerate(("acknowledged", "in_progress", "resolved"), start=2):
        answer = roads.post(f"/admin/reports/{report_id}/status", data={
            "csrf_token": token, "status": status, "comment": f"step {status}"}, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/admin/reports/{report_id}?done=status"
        assert _report(city, report_id).status == status
        assert _messages(city) == n
    shown = roads.get(f"/admin/reports/{report_id}?done=status").text
    assert "The status has been changed." in shown and "step resolved" in shown
    # a move the workflow does not allow is refused with its reason, not a 500
    wrong = roads.post(f"/admin/reports/{report_id}/status", data={"csrf_token": token,
                                                                   "status": "acknowledged"})
    assert wrong.status_code == 409 and "cannot become" in wrong.text


def test_internal_notes_never_reach_the_public_api(city):
    report_id = city.report()
    roads = city.client("roads@example.org")
    token = csrf_of(roads, f"/admin/reports/{report_id}")
    note = roads.post(f"/admin/reports/{report_id}/comment", data={
        "csrf_token": token, "text": "Secret: contractor is late", "visibility": "internal"},
        follow_redirects=False)
    assert note.status_code == 303 and note.headers["location"].endswith("?done=note")
    before = _messages(city)
    public = roads.post(f"/admin/reports/{report_id}/comment", data={
        "csrf_token": token, "text": "We are on it", "visibility": "public"}, follow_redirects=False)
    assert public.status_code == 303 and _messages(city) == before + 1
    staff_page = roads.get(f"/admin/reports/{report_id}").text
    assert "Secret: contractor is late" in staff_page and "[internal]" in staff_page
    for client in (city.client(), city.client("+84912345678")):
        body = client.get(f"/api/v1/reports/{report_id}").text
        assert "Secret: contractor is late" not in body and "We are on it" in body
    empty = roads.post(f"/admin/reports/{report_id}/comment", data={"csrf_token": token, "text": " "})
    assert empty.status_code == 422 and "Write the text" in empty.text


def test_transfer_to_water_with_a_reason_and_the_roads_agent_loses_access(city):
    report_id = city.report()
    roads = city.client("roads@example.org")
    token = csrf_of(roads, f"/admin/reports/{report_id}")
    missing = roads.post(f"/admin/reports/{report_id}/transfer", data={
        "csrf_token": token, "department_id": str(city.water), "reason": ""})
    assert missing.status_code == 422 and "Say why" in missing.text
    answer = roads.post(f"/admin/reports/{report_id}/transfer", data={
        "csrf_token": token, "department_id": str(city.water), "reason": "It is a burst water main"},
        follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/reports?done=transfer"
    assert _report(city, report_id).department_id == city.water
    assert roads.get(f"/admin/reports/{report_id}").status_code == 403
    timeline = city.client("water@example.org").get(f"/admin/reports/{report_id}").text
    assert "It is a burst water main" in timeline and "From Voirie to Eau" in timeline


def test_rejection_needs_a_reason(city):
    original = city.report()
    report_id = city.report()
    roads = city.client("roads@example.org")
    token = csrf_of(roads, f"/admin/reports/{report_id}")
    refused = roads.post(f"/admin/reports/{report_id}/status", data={
        "csrf_token": token, "status": "rejected", "comment": "dup"})
    assert refused.status_code == 422
    assert "Say why the report is not taken forward." in refused.text
    assert 'aria-invalid="true" aria-describedby="e-reject_reason"' in refused.text
    assert _report(city, report_id).status == "new"
    bad_number = roads.post(f"/admin/reports/{report_id}/status", data={
        "csrf_token": token, "status": "rejected", "reject_reason": "duplicate", "duplicate_of": "abc"})
    assert bad_number.status_code == 422 and "Give the number of the original report." in bad_number.text
    done = roads.post(f"/admin/reports/{report_id}/status", data={
        "csrf_token": token, "status": "rejected", "reject_reason": "duplicate",
        "duplicate_of": f"#{original}", "referred_to": ""}, follow_redirects=False)
    assert done.status_code == 303
    rejected = _report(city, report_id)
    assert rejected.status == "rejected" and rejected.duplicate_of == original


def test_moderation_rewrites_the_description_and_assignment_to_me(city):
    report_id = city.report(description="Call Mr X at 0912 345 678, he did it")
    roads = city.client("roads@example.org")
    token = csrf_of(roads, f"/admin/reports/{report_id}")
    answer = roads.post(f"/admin/reports/{report_id}/redact", data={
        "csrf_token": token, "description": "Someone damaged the road"}, follow_redirects=False)
    assert answer.status_code == 303
    assert city.client().get(f"/api/v1/reports/{report_id}").json()["description"] == \
        "Someone damaged the road"
    with city.db.read() as session:
        from parvis.modules.accounts.models import User
        agent_id = session.scalar(select(User.id).where(User.email == "roads@example.org"))
    assigned = roads.post(f"/admin/reports/{report_id}/assign", data={
        "csrf_token": token, "user_id": str(agent_id)}, follow_redirects=False)
    assert assigned.status_code == 303 and _report(city, report_id).assigned_to == agent_id
    assert "(me)" in roads.get(f"/admin/reports/{report_id}").text
    unassigned = roads.post(f"/admin/reports/{report_id}/assign", data={"csrf_token": token, "user_id": ""},
                            follow_redirects=False)
    assert unassigned.status_code == 303 and _report(city, report_id).assigned_to is None


def test_a_report_to_be_located_is_placed_by_typing_coordinates(city):
    report_id = city.report(lon=None, lat=None, address="Near the old bridge")
    roads = city.client("roads@example.org")
    page = roads.get(f"/admin/reports/{report_id}").text
    assert 'name="lat"' in page and "To be located" in page
    token = csrf_of(roads, f"/admin/reports/{report_id}")
    typo = roads.post(f"/admin/reports/{report_id}/locate", data={"csrf_token": token, "lon": "east",
                                                                  "lat": "16.005"})
    assert typo.status_code == 422 and "longitude" in typo.text
    outside = roads.post(f"/admin/reports/{report_id}/locate", data={"csrf_token": token, "lon": "10",
                                                                     "lat": "10"})
    assert outside.status_code == 422 and "inside the city" in outside.text
    answer = roads.post(f"/admin/reports/{report_id}/locate", data={
        "csrf_token": token, "lon": "107,005", "lat": "16.005"}, follow_redirects=False)
    assert answer.status_code == 303
    placed = _report(city, report_id)
    assert placed.district_id == city.district and not placed.needs_location
