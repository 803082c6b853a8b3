# Device side of test_umqtt_failures: one QoS 1 publish through lgmqtt.umqtt.robust to a
# broker that never acknowledges the first PUBLISH. argv: host port
import sys

from lgmqtt.umqtt.robust import MQTTClient

c = MQTTClient("lgt-umqtt-puback", sys.argv[1], int(sys.argv[2]))
c.ACK_TIMEOUT = 1  # seconds: how long a missing PUBACK is waited for
c.DELAY = 0.1
c.DEBUG = True
c.connect()
c.publish(b"lgt/umqtt/puback", b"once", qos=1)
print("done")
c.disconnect()
