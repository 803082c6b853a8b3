# The whole MQTT layer under one name, for tests (both interpreters): packet types,
# property ids, the encoders of both sides, the Decoder, ProtocolError, reason names.
# The library itself imports each lgmqtt.mqtt module it needs, never this.
from lgmqtt.mqtt.wire import *  # noqa: F401,F403
from lgmqtt.mqtt.props import *  # noqa: F401,F403
from lgmqtt.mqtt.encode import *  # noqa: F401,F403
from lgmqtt.mqtt.decode import Decoder  # noqa: F401
from lgmqtt.mqtt.server import *  # noqa: F401,F403
from lgmqtt.mqtt.names import reason_name, connack_name, property_name, property_id  # noqa: F401
