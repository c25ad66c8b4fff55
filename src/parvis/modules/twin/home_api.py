""""My home" as JSON: ``POST /api/v1/twin/home/estimate`` takes the same answers as the page's form
and gives the same figures (heating need, energy class, yearly cost, cooling when the city sets
cooling degree-days, and the "what if" improvements). Public, nothing stored. Wrong answers get a
problem+json 422 whose ``errors`` name the field."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from parvis.modules.twin import home_service
from parvis.modules.twin.insulation import InvalidHomeInputs

router = APIRouter(prefix="/api/v1/twin/home", tags=["twin: my home"])


class HomeAnswers(BaseModel):
    """A home as its occupant describes it. Types are keys of the city's typology (see the page's
    choices); leave one out for the construction period's typical value."""

    model_config = ConfigDict(extra="forbid")

    floor_area_m2: float = Field(description="Heated floor area of all storeys, m²")
    storeys: int = 1
    period: str | None = Field(None, description="Construction period key, e.g. 1946_1970")
    year: int | None = Field(None, description="Year of construction, when the period is not given")
    attached_sides: int = Field(0, description="Sides joined to a neighbour's heated house: 0, 1 or 2")
    roof_type: str | None = None
    wall_type: str | None = None
    window_type: str | None = None
    heating_system: str = "gas_boiler"
    air_conditioned: bool = False


@router.post("/estimate", summary="Estimate a home's heating need, energy class and what-if savings")
def estimate_home(request: Request, answers: HomeAnswers) -> dict[str, Any]:
    parsed = home_service.read_form(answers.model_dump())
    if parsed.inputs is None:
        raise InvalidHomeInputs(errors=[{"field": k, "code": "invalid", "message": v}
                                        for k, v in parsed.errors.items()])
    result = home_service.compute(parsed.inputs, request.app.state.settings)
    return {"inputs": answers.model_dump(), **result}
