"""The city's digital twin: terrain and surface models, buildings and their roof faces, zoning,
flood hazard and protected areas; roof solar potential, home insulation, flood what-ifs and
buildable zones computed from them.

Other modules and the demo use this public surface only.
"""

from parvis.modules.twin.demo_twin import provision as provision_demo
from parvis.modules.twin.home_service import classify_thermography, link_demo_owner
from parvis.modules.twin.jobs import register, request_solar_run
from parvis.modules.twin.planning_service import warm_up

__all__ = ["classify_thermography", "link_demo_owner", "provision_demo", "register", "request_solar_run",
           "warm_up"]
