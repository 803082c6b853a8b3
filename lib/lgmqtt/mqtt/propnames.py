# MQTT 5 property ids (public names) and their camelCase names, as the connector's users
# know them from MQTT.js. Not on a device client's path: codec loads this module on the
# first `codec.CONTENT_TYPE`-style lookup (the ids are plain ints; props.py and the
# session keep private copies folded at compile time).
from lgmqtt.compat import const

PAYLOAD_FORMAT_INDICATOR = const(0x01)
MESSAGE_EXPIRY_INTERVAL = const(0x02)
CONTENT_TYPE = const(0x03)
RESPONSE_TOPIC = const(0x08)
CORRELATION_DATA = const(0x09)
SUBSCRIPTION_IDENTIFIER = const(0x0B)
SESSION_EXPIRY_INTERVAL = const(0x11)
ASSIGNED_CLIENT_IDENTIFIER = const(0x12)
SERVER_KEEP_ALIVE = const(0x13)
AUTHENTICATION_METHOD = const(0x15)
AUTHENTICATION_DATA = const(0x16)
REQUEST_PROBLEM_INFORMATION = const(0x17)
WILL_DELAY_INTERVAL = const(0x18)
REQUEST_RESPONSE_INFORMATION = const(0x19)
RESPONSE_INFORMATION = const(0x1A)
SERVER_REFERENCE = const(0x1C)
REASON_STRING = const(0x1F)
RECEIVE_MAXIMUM = const(0x21)
TOPIC_ALIAS_MAXIMUM = const(0x22)
TOPIC_ALIAS = const(0x23)
MAXIMUM_QOS = const(0x24)
RETAIN_AVAILABLE = const(0x25)
USER_PROPERTY = const(0x26)
MAXIMUM_PACKET_SIZE = const(0x27)
WILDCARD_SUBSCRIPTION_AVAILABLE = const(0x28)
SUBSCRIPTION_IDENTIFIER_AVAILABLE = const(0x29)
SHARED_SUBSCRIPTION_AVAILABLE = const(0x2A)

# The ids in order, and their names in the same order (one str: one object, not 27).
_IDS = b"\x01\x02\x03\x08\x09\x0b\x11\x12\x13\x15\x16\x17\x18\x19\x1a\x1c\x1f\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a"
_NAMES = ("payloadFormatIndicator messageExpiryInterval contentType responseTopic correlationData "
          "subscriptionIdentifier sessionExpiryInterval assignedClientIdentifier serverKeepAlive "
          "authenticationMethod authenticationData requestProblemInformation willDelayInterval "
          "requestResponseInformation responseInformation serverReference reasonString receiveMaximum "
          "topicAliasMaximum topicAlias maximumQoS retainAvailable userProperties maximumPacketSize "
          "wildcardSubscriptionAvailable subscriptionIdentifiersAvailable sharedSubscriptionAvailable")


def property_name(pid):
    """0x03 -> "contentType". ValueError for an unknown id."""
    i = _IDS.find(bytes((pid,))) if isinstance(pid, int) and 0 <= pid < 256 else -1
    if i < 0:
        raise ValueError("unknown MQTT 5 property id %r" % (pid,))
    return _NAMES.split()[i]


def property_id(name):
    """"contentType" -> 0x03 ("userProperty" is accepted for userProperties)."""
    if name == "userProperty":
        return USER_PROPERTY
    names = _NAMES.split()
    if name in names:
        return _IDS[names.index(name)]
    raise ValueError("unknown MQTT 5 property name %r" % (name,))
