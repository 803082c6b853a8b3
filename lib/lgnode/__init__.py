# lgnode: the sensor-node application library on top of lgmqtt. Portable like lgmqtt
# (no machine, no network): the board profile passes hardware objects in.
#   lgnode.sensors    sensor plug-ins from device.sensors, and the sampler
#   lgnode.bme280     Bosch BME280 I2C driver with the datasheet's integer compensation
#   lgnode.discovery  Home Assistant MQTT discovery messages
#   lgnode.auth       HMAC-SHA256 authenticated remote commands (and the host's signer)
#   lgnode.nodecfg    validation of config.json's device section (one-shot)
#   lgnode.telemetry  one telemetry message per sampling tick; the sequence number
#   lgnode.node       the always-on node;  lgnode.duty  the deep-sleep duty cycle
#   lgnode.announce   availability and Home Assistant discovery on connect
#   lgnode.commands   the node's remote commands and their authentication
#   lgnode.supervise  task supervision, crash log, safe mode
# Import the submodule you need: this package itself imports nothing.
__version__ = "0.1.0"

SENSOR_ERROR = "SENSOR_ERROR"  # a sensor could not be read (ConnectorError.error)

# Remote calls that change nothing on the node: the only ones device.auth.unauthenticated
# may open to unsigned requests (every other call needs a signature).
READ_ONLY = ("mqtt:connection.status", "mqtt:history.read", "mqtt:history.retained", "mqtt:publish.pending",
             "mqtt:topics.list", "lg:node.status")


def valid_id(s):
    """Home Assistant's rule for node and object ids: characters from [a-zA-Z0-9_-]
    (here also 1..64 of them). Sensor ids and object ids follow it too."""
    if not isinstance(s, str) or not 0 < len(s) <= 64:
        return False
    for c in s:
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c == "_" or c == "-"):
            return False
    return True
