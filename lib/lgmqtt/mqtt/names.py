# Human names: MQTT reason codes (5.0 section 2.4), 3.1.1 CONNACK return codes, and the
# camelCase names of the 5.0 properties (as the connector's users know them from
# MQTT.js). Imported only when a name is needed (an error message, a property by name),
# so a board that never formats one does not hold these strings in RAM.

from lgmqtt.compat import const
from lgmqtt.errors import INVALID_PARAMS
from lgmqtt.mqtt.wire import CodecError

_USER_PROPERTY = const(0x26)

_NAMES = {
    0x00: "Success",
    0x01: "Granted QoS 1",
    0x02: "Granted QoS 2",
    0x04: "Disconnect with Will Message",
    0x10: "No matching subscribers",
    0x11: "No subscription existed",
    0x18: "Continue authentication",
    0x19: "Re-authenticate",
    0x80: "Unspecified error",
    0x81: "Malformed Packet",
    0x82: "Protocol Error",
    0x83: "Implementation specific error",
    0x84: "Unsupported Protocol Version",
    0x85: "Client Identifier not valid",
    0x86: "Bad User Name or Password",
    0x87: "Not authorized",
    0x88: "Server unavailable",
    0x89: "Server busy",
    0x8A: "Banned",
    0x8B: "Server shutting down",
    0x8C: "Bad authentication method",
    0x8D: "Keep Alive timeout",
    0x8E: "Session taken over",
    0x8F: "Topic Filter invalid",
    0x90: "Topic Name invalid",
    0x91: "Packet Identifier in use",
    0x92: "Packet Identifier not found",
    0x93: "Receive Maximum exceeded",
    0x94: "Topic Alias invalid",
    0x95: "Packet too large",
    0x96: "Message rate too high",
    0x97: "Quota exceeded",
    0x98: "Administrative action",
    0x99: "Payload format invalid",
    0x9A: "Retain not supported",
    0x9B: "QoS not supported",
    0x9C: "Use another server",
    0x9D: "Server moved",
    0x9E: "Shared Subscriptions not supported",
    0x9F: "Connection rate exceeded",
    0xA0: "Maximum connect time",
    0xA1: "Subscription Identifiers not supported",
    0xA2: "Wildcard Subscriptions not supported",
}

_CONNACK_V4 = (
    "Connection Accepted",
    "Connection Refused, unacceptable protocol version",
    "Connection Refused, identifier rejected",
    "Connection Refused, Server unavailable",
    "Connection Refused, bad user name or password",
    "Connection Refused, not authorized",
)


def reason_name(code, packet_type=None):
    """0x87 -> "Not authorized". Code 0 reads "Granted QoS 0" in a SUBACK (9) and
    "Normal disconnection" in a DISCONNECT (14)."""
    if code == 0:
        if packet_type == 9:
            return "Granted QoS 0"
        if packet_type == 14:
            return "Normal disconnection"
    name = _NAMES.get(code)
    return name if name is not None else "Unknown reason code 0x%02X" % code


def connack_name(version, code):
    """The name of a CONNACK's code: a 3.1.1 return code (version 4) or a 5.0 reason code."""
    if version == 4:
        if 0 <= code < len(_CONNACK_V4):
            return _CONNACK_V4[code]
        return "Unknown CONNACK return code %d" % code
    return reason_name(code, 2)


# The ids in order, and their names in the same order (one str: one object, not 27).
_IDS = b"\x01\x02\x03\x08\x09\x0b\x11\x12\x13\x15\x16\x17\x18\x19\x1a\x1c\x1f\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a"
_PROP_NAMES = ("payloadFormatIndicator messageExpiryInterval contentType responseTopic correlationData "
          "subscriptionIdentifier sessionExpiryInterval assignedClientIdentifier serverKeepAlive "
          "authenticationMethod authenticationData requestProblemInformation willDelayInterval "
          "requestResponseInformation responseInformation serverReference reasonString receiveMaximum "
          "topicAliasMaximum topicAlias maximumQoS retainAvailable userProperties maximumPacketSize "
          "wildcardSubscriptionAvailable subscriptionIdentifiersAvailable sharedSubscriptionAvailable")


def property_name(pid):
    """0x03 -> "contentType". ValueError for an unknown id."""
    i = _IDS.find(bytes((pid,))) if isinstance(pid, int) and 0 <= pid < 256 else -1
    if i < 0:
        raise CodecError(INVALID_PARAMS, "unknown MQTT 5 property id %r" % (pid,))
    return _PROP_NAMES.split()[i]


def property_id(name):
    """"contentType" -> 0x03 ("userProperty" is accepted for userProperties)."""
    if name == "userProperty":
        return _USER_PROPERTY
    names = _PROP_NAMES.split()
    if name in names:
        return _IDS[names.index(name)]
    raise CodecError(INVALID_PARAMS, "unknown MQTT 5 property name %r" % (name,))
