"""Every Parvis setting, typed, with its default and one line of help.

Settings come from environment variables prefixed ``PARVIS_`` (or a ``.env`` file).
``docs/settings.md`` documents each one; a test fails when one is missing there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LANGUAGES = ("fr", "en", "vi", "km", "ar")
RTL_LANGUAGES = frozenset({"ar"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARVIS_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///parvis.db",
        description="SQLAlchemy URL of the database: a SQLite file (default) or "
        "postgresql+psycopg://user@host/db.",
    )
    secret_key: str = Field(
        "change-me-in-production",
        description="Key that signs sessions and CSRF tokens; set a long random value in production.",
    )
    base_url: str = Field(
        "http://127.0.0.1:8000", description="Public URL of this Parvis, used in links sent to people."
    )
    default_language: Literal["fr", "en", "vi", "km", "ar"] = Field(
        "fr", description="Language used when neither the person nor the browser chooses one."
    )
    local_language: Literal["fr", "en", "vi", "km", "ar"] = Field(
        "vi", description="Language of the local names of districts and departments."
    )
    timezone: str = Field("Asia/Ho_Chi_Minh", description="City time zone used to show dates.")
    currency: str = Field("VND", description="ISO 4217 code of the city's currency.")
    city_name: str = Field("Ville de Sông Xanh", description="Name of the city shown in pages.")
    secure_cookies: bool = Field(
        False, description="Mark cookies Secure (turn on behind HTTPS)."
    )
    web_threads: int = Field(
        4, ge=1, le=64,
        description="Threads per web process that run database work. Python runs one thread at a time: "
        "a few threads keep the processor busy, more only fight over it (see the README's performance "
        "section); run more web processes (`parvis serve --workers`) to use more cores.",
    )
    access_log: Literal["people", "all", "off"] = Field(
        "people",
        description="One log line per request: `people` every request but the successful ones of "
        "machines (NGSI-LD and device ingestion, thousands a second; their failures are logged), "
        "`all`, or `off`.",
    )
    session_days: int = Field(14, description="Days a signed-in session lasts without activity.")
    max_body_bytes: int = Field(
        2_000_000, description="Largest request body accepted, in bytes (413 beyond), uploads aside."
    )
    max_upload_bytes: int = Field(
        64_000_000, description="Largest multipart upload (a report with its photos), in bytes."
    )
    login_max_failures: int = Field(
        5, description="Failed sign-ins allowed per account or per address within the window."
    )
    login_window_seconds: int = Field(
        900, description="Window, in seconds, over which failed sign-ins are counted."
    )
    otp_ttl_seconds: int = Field(600, description="Lifetime of a one-time confirmation code.")
    otp_max_attempts: int = Field(5, description="Wrong guesses allowed for one confirmation code.")
    token_ttl_seconds: int = Field(3600, description="Lifetime of an API bearer token.")
    phone_region: str = Field(
        "VN", description="ISO region used to read phone numbers written without +country code."
    )
    tile_url: str = Field(
        "",
        description="Map tile URL template ({z}/{x}/{y}); empty draws districts without a base map.",
    )
    tile_attribution: str = Field("", description="Attribution text shown for the map tiles.")
    demo_password: str = Field(
        "parvis-demo", description="Password of every demo account created by `parvis demo`."
    )
    demo_citizens: int = Field(300, description="Number of citizens `parvis demo` creates.")
    demo_reports: int = Field(400, description="Number of citizen reports `parvis demo` creates.")
    # Notifications
    notify_email_backend: Literal["fake", "smtp"] = Field(
        "fake", description="E-mail channel: 'fake' records messages, 'smtp' sends them."
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server host.")
    smtp_port: int = Field(25, description="SMTP server port.")
    smtp_username: str = Field("", description="SMTP user name (empty: no authentication).")
    smtp_password: str = Field("", description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Use STARTTLS with the SMTP server.")
    email_from: str = Field("parvis@localhost", description="Sender address of e-mails.")
    notify_sms_backend: Literal["fake", "kannel", "webhook"] = Field(
        "fake",
        description="SMS channel: 'fake' records, 'kannel' uses Kannel's sendsms, "
        "'webhook' posts JSON to a gateway.",
    )
    kannel_sendsms_url: str = Field(
        "http://127.0.0.1:13013/cgi-bin/sendsms", description="Kannel smsbox sendsms URL."
    )
    kannel_username: str = Field("parvis", description="Kannel sendsms user name.")
    kannel_password: str = Field("parvis", description="Kannel sendsms password.")
    sms_sender: str = Field("1022", description="Sender number or short code of outgoing SMS.")
    sms_webhook_url: str = Field("", description="URL the 'webhook' SMS backend posts JSON to.")
    sms_webhook_token: str = Field("", description="Bearer token sent to the SMS webhook gateway.")
    sms_inbound_token: str = Field(
        "change-me-sms",
        description="Shared secret that SMS gateways put in inbound and delivery-report URLs.",
    )
    notify_push_backend: Literal["fake", "webpush"] = Field(
        "fake", description="Web push channel: 'fake' records, 'webpush' sends with VAPID."
    )
    vapid_private_key: str = Field(
        "", description="VAPID private key (PEM or base64url); generated into the database if empty."
    )
    vapid_subject: str = Field("mailto:admin@localhost", description="VAPID contact subject.")
    notify_max_attempts: int = Field(6, description="Attempts before a message is marked failed.")
    notify_backoff_seconds: float = Field(
        5.0, description="First retry delay; doubles at each attempt."
    )
    rate_limit_sms_per_minute: int = Field(
        3000, description="SMS sent per minute, all workers: what the SMS gateway's operator link accepts.")
    rate_limit_email_per_minute: int = Field(
        1200, description="E-mails sent per minute, all workers: what the mail relay accepts.")
    rate_limit_push_per_minute: int = Field(6000, description="Web pushes sent per minute, all workers.")
    notify_batch_size: int = Field(
        200, description="Messages of one channel a worker claims, sends and records together."
    )
    notify_send_threads: int = Field(
        8, description="Sends in flight at once per channel in each worker (keep-alive connections)."
    )
    # Jobs
    worker_poll_seconds: float = Field(1.0, description="How often an idle worker looks for work.")
    job_lease_seconds: int = Field(
        300, description="Seconds before a job held by a dead worker is retried."
    )
    data_dir: Path = Field(Path("."), description="Folder for uploaded files (photos) and backups.")
    # Citizen reports
    reports_reopen_days: int = Field(
        14, description="Days after resolution during which the reporter may reopen a report."
    )
    reports_close_days: int = Field(
        21, description="Days after resolution after which an unrated report is closed."
    )
    reports_anonymous_per_hour: int = Field(
        10, description="Reports accepted per hour from one address without an account (web, API)."
    )
    reports_client_per_hour: int = Field(
        1000, description="Reports accepted per hour from one Open311 API key (a client application "
        "relaying many people is counted as one sender, whatever its address)."
    )
    reports_sms_fallback_category: str = Field(
        "AUTRE", description="Category code of SMS reports that do not start with a known code."
    )
    reports_max_photos: int = Field(5, description="Photos accepted with one report.")
    reports_pending_minutes: int = Field(
        60, description="Minutes a visitor without an account has to confirm a web report with its code."
    )
    reports_pending_per_hour: int = Field(
        5, description="Web reports awaiting their code accepted per hour from one address or contact."
    )
    reports_pending_sms_per_hour: int = Field(
        300, description="Codes sent by SMS per hour, city-wide, for web reports without an account (a "
        "bound on what a script can make the city pay its SMS gateway); past it, visitors are asked for "
        "an e-mail address or to sign in."
    )
    reports_pending_resend_seconds: int = Field(
        60, description="Seconds before a visitor may ask for a new code for a report awaiting one."
    )
    photo_max_bytes: int = Field(12_000_000, description="Largest photo accepted, in bytes.")
    photo_max_pixels: int = Field(
        40_000_000, description="Largest photo accepted, in pixels (width x height)."
    )
    photo_max_side: int = Field(1600, description="Photos are stored downscaled to this longest side.")
    demo_open311_key: str = Field(
        "parvis-demo-open311", description="Open311 API key that `parvis demo` issues to test clients."
    )
    demo_ngsi_key: str = Field(
        "parvis-demo-ngsi", description="NGSI-LD API key (read and write) that `parvis demo` issues, so "
        "that an NGSI-LD client can write to the demo city right away."
    )
    # Sensor hub (NGSI-LD context broker)
    ngsi_public_types: list[str] = Field(
        ["TrafficFlowObserved", "OffStreetParking", "OnStreetParking", "ParkingSpot",
         "AirQualityObserved"],
        description="NGSI-LD entity types anyone may read without an API key, as a JSON list of Smart "
        "Data Models type names or full type IRIs."
    )
    ngsi_context_allowlist: list[str] = Field(
        [], description="URLs of user JSON-LD @contexts the NGSI-LD API may fetch (once per process), "
        "as a JSON list; the NGSI-LD core and Smart Data Models contexts ship with Parvis and are never "
        "fetched. Empty: no context is ever fetched."
    )
    ngsi_key_cache_seconds: float = Field(
        2.0, ge=0, le=60, description="Seconds a web process remembers what an NGSI-LD API key may do "
        "(0: look it up on every request). A key revoked in another process stops working within this "
        "delay."
    )
    ngsi_max_body_bytes: int = Field(
        2_000_000, ge=10_000, description="Largest NGSI-LD request body accepted, in bytes."
    )
    demo_iot_api_key: str = Field(
        "parvis-demo-iot", description="IoT API key of the demo city's devices: the first segment of "
        "their MQTT topic (`/<key>/<device>/attrs`) and the `k` of `POST /iot/json`."
    )
    demo_sensor_hours: int = Field(
        6, ge=0, le=168, description="Hours of simulated sensor readings the demo city stores when it "
        "is created (every 10 minutes)."
    )
    sensors_mqtt_url: str = Field(
        "mqtt://127.0.0.1:1883", description="MQTT broker the sensor hub subscribes to "
        "(`parvis sensors listen`) and `parvis simulate` publishes to."
    )
    sensors_mqtt_topic: str = Field(
        "/+/+/attrs", description="Topic filter of `parvis sensors listen` (IoT-agent convention "
        "`/<apikey>/<device_id>/attrs`)."
    )
    sensors_mqtt_client_id: str = Field(
        "parvis-sensors", description="MQTT client id of the listener: its persistent session keeps "
        "the messages that arrive while it is stopped (run one listener per id)."
    )
    sensors_mqtt_protocol: Literal["5", "3.1.1"] = Field(
        "5", description="MQTT version `parvis sensors listen` speaks: `5`, or `3.1.1` for a broker "
        "without MQTT 5 (the broker's own in-flight window then applies, e.g. Mosquitto's "
        "`max_inflight_messages`)."
    )
    sensors_mqtt_ca_file: str = Field(
        "", description="CA certificates (PEM file) that sign the certificate of an `mqtts://` broker; "
        "empty: the system's trusted CAs."
    )
    sensors_mqtt_cert_file: str = Field(
        "", description="Client certificate (PEM file) the listener presents to an `mqtts://` broker "
        "that asks for one; empty: none."
    )
    sensors_mqtt_key_file: str = Field(
        "", description="Private key (PEM file) of `PARVIS_SENSORS_MQTT_CERT_FILE`, when it is not in "
        "that file."
    )
    sensors_max_past_hours: int = Field(
        168, ge=1, description="Oldest reading stored, in hours before it arrives; older ones are "
        "set aside as dead letters."
    )
    sensors_max_future_seconds: int = Field(
        300, ge=0, description="How far in the future a reading's own time may be (a device's clock "
        "drift) before it is set aside."
    )
    sensors_queue_max: int = Field(
        10_000, ge=10, description="Messages the MQTT listener holds between the broker and the "
        "database; when full it waits, then drops and counts."
    )
    sensors_queue_wait_seconds: float = Field(
        5.0, ge=0, description="How long the listener waits for room in a full queue before it drops "
        "a message (counted as dropped)."
    )
    sensors_dead_letter_days: int = Field(
        30, ge=1, description="Days the sensor hub keeps a message it could not store (a dead letter) "
        "before the worker deletes it."
    )
    sensors_http_concurrency: int = Field(
        4, ge=1, description="Readings `POST /iot/json` stores at once per web process; more are "
        "answered 429 with Retry-After (counted as throttled)."
    )
    ngsi_batch_max_entities: int = Field(
        1000, ge=1, description="Entities accepted at most in one NGSI-LD batch operation."
    )
    ngsi_census_seconds: float = Field(
        30.0, ge=0, description="Seconds a web process reuses its count of the attributes of every "
        "entity type (`/ngsi-ld/v1/attributes`, `/types?details=true`, `/types/{type}`): counting "
        "reads every entity (about a second at 100,000), so a burst of such requests reads them once."
    )
    sensors_device_cache_seconds: float = Field(
        10.0, ge=0, description="Seconds the MQTT listener keeps a device's provisioning in memory: a "
        "device provisioned again or removed through another process is followed at most this late "
        "(0: look devices up in every batch)."
    )
    # Sensor hub: subscriptions and notifications
    sensors_subscriptions_refresh_seconds: float = Field(
        1.0, gt=0, le=60, description="How often a process writing sensor data checks for subscriptions "
        "created, changed or deleted by another process (the longest delay before one is matched)."
    )
    sensors_notify_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Seconds a subscription's endpoint has to answer a notification."
    )
    sensors_notify_max_attempts: int = Field(
        5, ge=1, le=20, description="Attempts to deliver a notification before it is given up (the "
        "subscription's notification status becomes failed)."
    )
    sensors_notify_retry_seconds: float = Field(
        2.0, ge=0, description="Wait before retrying a failed notification, doubled at each attempt "
        "(at most an hour)."
    )
    sensors_notify_concurrency: int = Field(
        8, ge=1, le=64, description="Notifications a worker sends at once (to different subscriptions)."
    )
    sensors_notify_poll_seconds: float = Field(
        0.05, gt=0, le=5, description="How often the notification sender looks for pending notifications "
        "on SQLite (PostgreSQL wakes it with LISTEN/NOTIFY)."
    )
    ngsi_max_subscriptions_per_key: int = Field(
        100, ge=1, le=100_000, description="Subscriptions one NGSI-LD API key may hold (each is matched "
        "against every write); creating one more is refused (403) until one is deleted."
    )
    sensors_notify_allowed_networks: list[str] = Field(
        [], description="Internal networks (CIDR, e.g. 10.20.0.0/16) or host names that subscription "
        "notifications may reach, as a JSON list. By default a notification to a loopback, private, "
        "link-local or reserved address is refused (server-side request forgery): a client of the "
        "NGSI-LD API must not make the server call inside the city's network."
    )
    # Sensor hub: events and traffic
    sensors_congestion_raise_level: Literal["B", "C", "D", "E", "F"] = Field(
        "E", description="Level of service (A-F) at which a road segment raises a congestion event "
        "to the mobility department."
    )
    sensors_congestion_clear_level: Literal["A", "B", "C", "D", "E"] = Field(
        "C", description="Level of service at or under which an open congestion event clears (after "
        "`sensors_event_clear_readings` readings): lower than the raise level, so it does not flap."
    )
    sensors_air_thresholds: dict[str, float] = Field(
        {"pm25": 50.0, "pm10": 100.0, "no2": 200.0, "o3": 200.0, "so2": 350.0, "co": 30000.0},
        description="Pollutant (pm25, pm10, no2, o3, so2, co) -> µg/m³ over which an air-quality "
        "station raises an event to the environment department (defaults: Vietnam QCVN 05:2023/BTNMT, "
        "1-hour limits; 24-hour limits for PM2.5 and PM10, which have no 1-hour limit)."
    )
    sensors_air_clear_ratio: float = Field(
        0.8, gt=0, le=1, description="An air-quality event clears once the pollutant stays under this "
        "share of its threshold (after `sensors_event_clear_readings` readings)."
    )
    sensors_event_clear_readings: int = Field(
        3, ge=1, description="Readings in a row under the clearing level before an event clears."
    )
    sensors_event_clear_minutes: float = Field(
        0.0, ge=0, description="Minutes under the clearing level, as well as the readings, before an "
        "event clears (0: the readings alone)."
    )
    sensors_air_alert_drafts: bool = Field(
        True, description="Draft an alert (never sent before a person approves it) when an air-quality "
        "event is raised."
    )
    sensors_air_alert_radius_km: float = Field(
        2.0, gt=0, le=50, description="Radius of the area of an alert drafted from an air-quality "
        "event, around the station."
    )
    sensors_traffic_refresh_seconds: int = Field(
        10, ge=2, le=600, description="How often the live traffic map fetches the segments' state."
    )
    # Sensor hub: parking, air quality, waste, aggregates and retention
    sensors_rollup_seconds: int = Field(
        60, ge=1, description="Seconds between two rollups of new sensor observations into the hourly "
        "and daily aggregates (done by the worker)."
    )
    sensors_retention_days: dict[str, int] = Field(
        {"TrafficFlowObserved": 14}, description="Days raw sensor observations are kept, per entity "
        "type (a JSON object of Smart Data Models type names or full type IRIs to days); only "
        "observations already in the aggregates are deleted. Other types: sensors_retention_default_days."
    )
    sensors_retention_default_days: int = Field(
        30, ge=1, description="Days raw sensor observations of types not listed in sensors_retention_days "
        "are kept."
    )
    sensors_hourly_keep_days: int = Field(
        730, ge=1, description="Days the hourly aggregates of sensor observations are kept."
    )
    sensors_daily_keep_days: int = Field(
        0, ge=0, description="Days the daily aggregates of sensor observations are kept (0: for ever)."
    )
    parking_detour_factor: float = Field(
        1.3, ge=1.0, le=3.0, description="Walking distance to a car park estimated as the great-circle "
        "distance times this factor (Parvis has no walking network)."
    )
    parking_stale_minutes: int = Field(
        30, ge=1, description="A car park whose last count is older than this is shown as not up to date "
        "(and not as free)."
    )
    waste_collect_threshold: float = Field(
        0.75, gt=0, le=1, description="Fill level (0 to 1) from which a waste container is on the "
        "\"to collect today\" list."
    )
    waste_round_hour: int = Field(
        6, ge=0, le=23, description="Local hour of the next day's collection round: a container whose "
        "fill rate will take it over the threshold before then is listed too."
    )
    # Sensor hub: the operations room
    sensors_operations_poll_seconds: float = Field(
        1.0, ge=0.05, le=60, description="How often an open operations room's live stream asks the "
        "database what changed (seconds)."
    )
    sensors_operations_overlap_seconds: float = Field(
        5.0, ge=0, le=300, description="How far back before its cursor the live stream looks again, "
        "to catch writes that committed late (seconds; longer than the longest ingestion transaction)."
    )
    sensors_operations_heartbeat_seconds: float = Field(
        15.0, ge=1, le=300, description="Seconds of silence after which the live stream sends a "
        "heartbeat comment, so that proxies keep the connection open."
    )
    sensors_operations_stream_seconds: float = Field(
        60.0, ge=1, le=86_400, description="Longest life of one live-stream connection (seconds); "
        "the browser then reconnects where it left off (`Last-Event-ID`). Access is checked at every "
        "poll: a person signed out or moved out of their department stops receiving at the next poll."
    )
    # Crisis alerts
    alerts_sender: str = Field(
        "", description="CAP sender of the city's alerts (no spaces or commas); empty: alerts@ and the "
        "host of base_url."
    )
    alerts_fanout_batch: int = Field(
        5000, description="People an alert's fan-out queues per transaction (a cancel stops it between two)."
    )
    alerts_import_feeds: list[str] = Field(
        [], description="URLs of external authorities' Atom feeds of CAP alerts (or of single CAP "
        "documents) polled for alerts to relay, as a JSON list; a feed's CAP documents are fetched from "
        "the feed's own host only. Empty: no polling."
    )
    alerts_import_interval_seconds: int = Field(
        300, ge=30, description="Seconds between two polls of the import feeds (one worker polls them)."
    )
    alerts_import_timeout_seconds: float = Field(
        10.0, gt=0, description="Timeout, in seconds, of each request to an import feed or CAP document."
    )
    alerts_import_max_bytes: int = Field(
        1_000_000, ge=10_000, description="Largest CAP document or feed accepted from outside (upload or "
        "feed), in bytes."
    )
    alerts_import_max_entries: int = Field(
        50, ge=1, description="New CAP documents fetched at most from one feed at each poll."
    )
    alerts_signing_key: str = Field(
        "", description="PEM private key, or the path of a PEM file, that signs the CAP documents served at "
        "/cap/alerts/{identifier}.xml (XML-DSig, enveloped); empty: documents are served unsigned."
    )
    alerts_signing_certificate: str = Field(
        "", description="PEM certificate of the signing key, or the path of a PEM file; each signature "
        "carries it so that consumers can check it."
    )
    alerts_sms_keywords: dict[str, list[str]] = Field(
        {"fr": ["ALERTE"], "en": ["ALERT"], "vi": ["CANH BAO", "CANHBAO"], "km": ["ព្រមាន"],
         "ar": ["تنبيه", "إنذار"]},
        description="SMS keywords, per language, that subscribe the sender's phone to alerts "
        "(`KEYWORD <district code> [category]`), as a JSON object; matched without case or diacritics. "
        "The reply is in the keyword's language; SMS reports never start with one of these.",
    )
    alerts_sms_stop_keywords: dict[str, list[str]] = Field(
        {"fr": ["ARRET"], "en": ["STOP"], "vi": ["HUY CANH BAO", "DUNG CANH BAO"], "km": ["ឈប់"],
         "ar": ["إيقاف"]},
        description="SMS keywords, per language, that unsubscribe the sender's phone from alerts, as a "
        "JSON object; matched without case or diacritics (ARRET also reads ARRÊT).",
    )
    alerts_sms_repeat_minutes: int = Field(
        10, ge=0, description="The same SMS command from the same phone within these minutes is taken "
        "as the gateway's retry: it is not answered again."
    )
    # Digital twin
    twin_backend: Literal["auto", "cpu", "gpu"] = Field(
        "auto", description="Array engine of the twin's computations: auto (CuPy on a CUDA GPU when "
        "one is present and the gpu extra is installed, else NumPy), cpu, or gpu (an error without one)."
    )
    twin_max_import_bytes: int = Field(
        1 << 30, ge=1 << 20, description="Largest file `parvis twin import` reads, in bytes (refused "
        "before reading)."
    )
    twin_max_hole_m2: float = Field(
        100.0, ge=0, description="Largest hole (nodata) of a surface model filled from its neighbours "
        "on import; a larger one is refused."
    )
    twin_default_roof_tilt: float = Field(
        30.0, gt=0, lt=90, description="Roof tilt (degrees) of pitched roofs whose tilt is not given."
    )
    twin_demo_width_m: int = Field(1500, ge=100, le=5000, description="Width of the demo city's "
                                   "generated twin, in metres (west-east).")
    twin_demo_height_m: int = Field(1000, ge=100, le=5000, description="Height of the demo city's "
                                    "generated twin, in metres (south-north).")
    twin_demo_buildings: int = Field(2500, ge=0, le=50_000, description="Buildings of the demo city's "
                                     "generated twin.")
    twin_solar_tile_m: float = Field(
        1000.0, ge=100, description="Side of the square cores the roof solar map is computed by, in metres, "
        "each inside a buffer that holds the shadows reaching it (a surface model that fits in one is "
        "computed whole); a core of 1 km and its buffer take about 1 GB."
    )
    twin_sun_step_minutes: int = Field(
        15, ge=5, le=60, description="Time step of the sun positions of the solar year (one representative "
        "day per month)."
    )
    twin_tmy_file: str = Field(
        "", description="CSV of a typical meteorological year (hourly `time,ghi,dni,dhi`, W/m²) used instead "
        "of clear sky for roof solar potential; empty: pvlib's clear sky (overstates a cloudy year)."
    )
    twin_albedo: float = Field(0.2, ge=0, le=1, description="Ground reflectance for roof irradiation.")
    twin_pv_module_efficiency: float = Field(0.20, gt=0, le=0.5, description="PV module efficiency used "
                                             "to size a roof's installation (kWp per m² of modules).")
    twin_pv_usable_fraction: float = Field(0.7, gt=0, le=1, description="Share of a roof face that can "
                                           "hold modules (edges, chimneys, windows).")
    twin_pv_min_annual_kwh_m2: float = Field(
        1000.0, ge=0, description="Yearly irradiation (kWh/m²) under which a roof face is not suggested "
        "for PV."
    )
    twin_pv_min_share_of_best: float = Field(
        0.8, ge=0, le=1, description="Share of the best unshaded, equator-facing roof's yearly irradiation "
        "a roof face needs to be suggested for PV (as solar cadastres grade roofs); 0: only the absolute "
        "minimum applies."
    )
    twin_electricity_price: float = Field(
        2500.0, ge=0, description="Price of a kWh of electricity, in the city's currency (the saving of "
        "a roof's PV yield)."
    )
    twin_heating_degree_days: float = Field(
        150.0, ge=0, le=10_000, description="Heating degree-days of the city (K·day a year; Namur about "
        "2,800, central Vietnam very few)."
    )
    twin_cooling_degree_days: float = Field(
        0.0, ge=0, le=10_000, description="Cooling degree-days of the city (K·day a year) for homes with "
        "air conditioning; 0: no cooling estimate."
    )
    twin_energy_prices: dict[str, float] = Field(
        {"gas": 2_900.0, "oil": 2_100.0, "electricity": 2_500.0, "wood": 800.0},
        description="Price of a kWh of final energy per carrier, in the city's currency, as a JSON object "
        "(defaults: indicative orders of magnitude in VND, to be set by the city)."
    )
    twin_improvement_costs: dict[str, float] = Field(
        {"roof_per_m2": 300_000.0, "wall_per_m2": 600_000.0, "window_per_m2": 2_500_000.0,
         "heat_pump_per_kw": 5_000_000.0, "heat_pump_fixed": 10_000_000.0},
        description="Indicative installed costs of improvements in the city's currency (per m² of roof, "
        "wall and window; per kW of heat pump and a fixed part), as a JSON object."
    )
    twin_typology_file: str = Field(
        "", description="JSON file of the city's building typology (U-values by construction period, "
        "same shape as the shipped table); empty: the shipped indicative table."
    )
    twin_thermography_visibility: Literal["owner", "staff", "public"] = Field(
        "owner", description="Who may see a given house's roof heat-loss level: its owner only, also "
        "the city's staff, or everyone."
    )
    twin_flood_connectivity: Literal[4, 8] = Field(
        4, description="Cells a flood spreads to in the what-if: 4 (sides) or 8 (sides and corners)."
    )
    twin_hand_threshold_m2: float = Field(
        100_000.0, gt=0, description="Upstream area (m²) from which a flow path is a drainage line for "
        "the height-above-nearest-drainage layer."
    )
    twin_buildable_max_slope_pct: float = Field(
        15.0, gt=0, le=100, description="Slope (%) above which land is not counted as buildable."
    )
    twin_buildable_setback_m: float = Field(
        0.0, ge=0, le=50, description="Distance kept free around existing buildings in buildable zones."
    )
    twin_buildable_min_area_m2: float = Field(
        50.0, ge=0, description="Buildable pieces smaller than this are dropped (and counted)."
    )
    twin_buildable_excluded_hazard: list[str] = Field(
        ["medium", "high"], description="Official flood-hazard levels whose land is not buildable, as a "
        "JSON list."
    )

def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (tests, CLI options)."""
    return Settings(**overrides)  # type: ignore[arg-type]
