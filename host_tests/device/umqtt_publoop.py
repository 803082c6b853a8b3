# Device side of test_umqtt_failures: lgmqtt.umqtt.robust publishes N QoS 1 messages
# "0".."N-1" in a loop, the way umqtt.robust code does, while the test restarts the
# broker under it. argv: host port n client_id
import sys

from lgmqtt.umqtt.robust import MQTTClient

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = MQTTClient(sys.argv[4], host, port, keepalive=10)
c.DELAY = 0.2  # the broker is back within a second: do not sleep the test away
c.DEBUG = True  # "mqtt: ..." / "mqtt reconnect: ..." lines show what happened
c.connect(clean_session=False)
for i in range(n):
    c.publish(b"lgt/umqtt/loop", b"%d" % i, qos=1)
    print("sent", i)
c.disconnect()
print("done", n)
