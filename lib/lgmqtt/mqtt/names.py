# Human names of MQTT reason codes (5.0 section 2.4) and of 3.1.1 CONNACK return
# codes. Imported lazily by codec.reason_name so a board that never formats a reason
# does not hold these strings in RAM.

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
