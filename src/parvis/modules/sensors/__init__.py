"""The city sensor hub: an NGSI-LD context broker (entities, attributes, batch operations) fed by
devices over MQTT or HTTP (IoT-agent JSON conventions), with a simulator of the demo city's sensors.

Other modules and the demo use this public surface only.
"""

from parvis.modules.sensors.actions import provision_device
from parvis.modules.sensors.api_keys import issue_api_key, revoke_api_key
from parvis.modules.sensors.demo_parking import provision as provision_demo_parking
from parvis.modules.sensors.demo_sensors import provision as provision_demo
from parvis.modules.sensors.jobs import register

__all__ = ["issue_api_key", "provision_demo", "provision_demo_parking", "provision_device", "register",
           "revoke_api_key"]
