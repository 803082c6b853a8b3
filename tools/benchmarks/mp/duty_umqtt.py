# tools/bench duty, the umqtt.simple 1.8.0 side: one report of a waking sensor node --
# connect (clean_session=False, as the lgmqtt node's), N QoS 1 publishes of telemetry
# messages shaped like the node's (each publish waits for its PUBACK: umqtt.simple has
# no window), disconnect. Nothing is read from or written to flash: the readings are
# in RAM (umqtt.simple has no outbox), so this is the lower bound of that work.
# With "nodelay" the application sets TCP_NODELAY on umqtt's socket after connect()
# (umqtt.simple writes a PUBLISH in four writes: with Nagle on, the later ones wait for
# the broker's delayed ACK, ~40 ms each on Linux).
#   micropython duty_umqtt.py HOST PORT N CLIENT_ID [nodelay]
import json
import sys

from umqtt.simple import MQTTClient

host, port, n, cid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
topic = ("lg/%s/telemetry" % cid).encode()
c = MQTTClient(cid, host, port, keepalive=60)
c.connect(clean_session=False)
if sys.argv[5:] == ["nodelay"]:
    c.sock.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY (the unix port has no constants)
for i in range(n):
    c.publish(topic, json.dumps({"seq": i + 1, "ts": 1718000000 + i, "temperature": 21.06}).encode(), qos=1)
c.disconnect()
print("done %d" % n)
