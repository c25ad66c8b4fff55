"""JSON routes of the city module: districts (GeoJSON) and departments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from parvis.kernel.auth import Principal, require
from parvis.kernel.errors import NotFound
from parvis.kernel.web import client_ip
from parvis.modules.city import actions, queries
from parvis.modules.city.schemas import (
    DepartmentCreate,
    DepartmentPublic,
    DepartmentUpdate,
    DistrictCreate,
    DistrictUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["city"])
GEOJSON = "application/geo+json"


@router.get("/districts", summary="Districts as a GeoJSON FeatureCollection")
def list_districts(request: Request) -> JSONResponse:
    with request.app.state.db.read() as session:
        return JSONResponse(queries.districts_geojson(session), media_type=GEOJSON)


@router.get("/districts/locate", summary="The district that contains a point (lon, lat)")
def locate(request: Request, lon: Annotated[float, Query(ge=-180, le=180)],
           lat: Annotated[float, Query(ge=-90, le=90)]) -> JSONResponse:
    with request.app.state.db.read() as session:
        district = queries.locate(session, lon, lat)
        if district is None:
            raise NotFound()
        return JSONResponse(queries.district_feature(district), media_type=GEOJSON)


@router.get("/districts/{district_id}", summary="One district as a GeoJSON Feature")
def get_district(request: Request, district_id: int) -> JSONResponse:
    with request.app.state.db.read() as session:
        district = queries.district(session, district_id)
        if district is None:
            raise NotFound()
        return JSONResponse(queries.district_feature(district), media_type=GEOJSON)


@router.post("/districts", status_code=201, summary="Create a district (admin)")
def create_district(request: Request, body: DistrictCreate,
                    principal: Annotated[Principal, Depends(require("city.manage"))]) -> JSONResponse:
    district = actions.create_district(request.app.state.db, principal, body, client_ip(request))
    return JSONResponse(queries.district_feature(district), status_code=201, media_type=GEOJSON)


@router.patch("/districts/{district_id}", summary="Change a district (admin)")
def update_district(request: Request, district_id: int, body: DistrictUpdate,
                    principal: Annotated[Principal, Depends(require("city.manage"))]) -> JSONResponse:
    district = actions.update_district(request.app.state.db, principal, district_id, body,
                                       client_ip(request))
    return JSONResponse(queries.district_feature(district), media_type=GEOJSON)


@router.delete("/districts/{district_id}", status_code=204, summary="Delete a district (admin)")
def delete_district(request: Request, district_id: int,
                    principal: Annotated[Principal, Depends(require("city.manage"))]) -> Response:
    actions.delete_district(request.app.state.db, principal, district_id, client_ip(request))
    return Response(status_code=204)


@router.get("/departments", response_model=list[DepartmentPublic], summary="Departments")
def list_departments(request: Request) -> Any:
    with request.app.state.db.read() as session:
        return [DepartmentPublic.model_validate(d) for d in queries.departments(session)]


@router.post("/departments", status_code=201, response_model=DepartmentPublic,
             summary="Create a department (admin)")
def create_department(request: Request, body: DepartmentCreate,
                      principal: Annotated[Principal, Depends(require("city.manage"))]) -> Any:
    return DepartmentPublic.model_validate(
        actions.create_department(request.app.state.db, principal, body, client_ip(request)))


@router.patch("/departments/{department_id}", response_model=DepartmentPublic,
              summary="Change a department (admin)")
def update_department(request: Request, department_id: int, body: DepartmentUpdate,
                      principal: Annotated[Principal, Depends(require("city.manage"))]) -> Any:
    return DepartmentPublic.model_validate(actions.update_department(
        request.app.state.db, principal, department_id, body, client_ip(request)))
