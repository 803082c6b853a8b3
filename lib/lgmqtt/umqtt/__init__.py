# lgmqtt.umqtt: a drop-in for micropython-lib's umqtt.simple and umqtt.robust. The
# package has their layout (simple.py, robust.py) so that migrating is a prefix on the
# import line: `from umqtt.simple import MQTTClient` -> `from lgmqtt.umqtt.simple import
# MQTTClient`, likewise robust. `from lgmqtt.umqtt import MQTTClient` is umqtt.simple's.
# Blocking sockets on lgmqtt.mqtt's sans-I/O session: no asyncio, connector or store.
from lgmqtt.umqtt.simple import MQTTClient, MQTTException  # noqa: F401
