"""lgmqtt.mqtt.topic.match agrees with a real broker: for every (filter, name) pair of the
tables below, Mosquitto delivers the message exactly when match() says it matches.

One MQTT 5 connection (paho-mqtt): each filter is subscribed with its own subscription
identifier, each name is published once at QoS 1, and the identifiers on the received
messages say which filters the broker matched.
"""
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from lgmqtt.mqtt.topic import compile_filter, match, match_levels, validate_filter, validate_name

E = "\u00e9"

FILTERS = [
    "#", "+", "+/+", "/+", "+/", "+/#", "/#", "+/+/+",
    "a", "a/b", "a//b", "/a", "a/", "a/#", "a/+", "a/+/c", "a/+/#", "a/b/#", "a/b/c",
    "+/b", "+/b/#", "+/+/c", "a/+/+", "//+", "//", "+//+",
    "sport/tennis/player1/#", "sport/#", "sport/tennis/+", "sport/+", "+/monitor/Clients",
    "$x/#", "$x/+", "$x", "+/y", "$x/monitor/Clients",
    "$share/g/#", "$share/g/a/+", "$share/g/$x/#", "$share/h/+/+",
    E + "/+", "+/" + E, E + "/#",
]

NAMES = [
    "a", "a/b", "a/bc", "ab", "a/", "/a", "/", "//", "a//b", "a//c", "a/b/c", "a/b/c/d", "a/x/c",
    "b/b", "/finance", "sport", "sport/", "sport/tennis", "sport/tennis/player1",
    "sport/tennis/player1/ranking", "sport/tennis/player1/score/wimbledon",
    "$x", "$x/y", "$x/monitor/Clients", "x/monitor/Clients", "a/$x", "$",
    E, E + "/" + E, E + "/e", "z/" + E,
]

_SENTINEL = "lgmqtt-test/end"

# Where Mosquitto (2.0.11 here) departs from the spec, and match() follows the spec:
# a shared subscription whose inner filter starts with '$' ("$share/g/$SYS/#") gets
# nothing from Mosquitto, while MQTT 5 section 4.8.2 makes the inner filter an
# ordinary filter (EMQX, for one, delivers $SYS topics to it). Kept visible here so a
# Mosquitto upgrade that fixes it shows up as a test failure to update.
KNOWN_MOSQUITTO_DIFFERENCES = {
    ("$share/g/$x/#", "$x"), ("$share/g/$x/#", "$x/y"), ("$share/g/$x/#", "$x/monitor/Clients"),
}


def test_broker_delivers_what_match_says(mosquitto):
    for f in FILTERS:
        validate_filter(f)
    for n in NAMES:
        validate_name(n)

    got = set()  # (filter index, name)
    lock = threading.Lock()
    done = threading.Event()
    subacks = {}

    def on_message(client, userdata, msg):
        if msg.topic == _SENTINEL:
            done.set()
            return
        ids = getattr(msg.properties, "SubscriptionIdentifier", None) or []
        with lock:
            for i in ids:
                if i <= len(FILTERS):
                    got.add((i - 1, msg.topic))

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        subacks[mid] = [int(rc.value) for rc in reason_codes]

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="lgmqtt-topic-check", protocol=mqtt.MQTTv5)
    c.on_message = on_message
    c.on_subscribe = on_subscribe
    c.connect(mosquitto.host, mosquitto.port)
    c.loop_start()
    try:
        mids = []
        for i, f in enumerate(FILTERS + [_SENTINEL]):
            props = Properties(PacketTypes.SUBSCRIBE)
            props.SubscriptionIdentifier = i + 1
            rc, mid = c.subscribe(f, qos=1, properties=props)
            assert rc == mqtt.MQTT_ERR_SUCCESS
            mids.append(mid)
        deadline = time.monotonic() + 10
        while len(subacks) < len(mids) and time.monotonic() < deadline:
            time.sleep(0.01)
        for f, mid in zip(FILTERS, mids):
            assert subacks.get(mid) == [1], (f, subacks.get(mid))  # granted QoS 1

        for n in NAMES:
            c.publish(n, b"x", qos=1)
        c.publish(_SENTINEL, b"end", qos=1)
        assert done.wait(10), "the broker did not deliver the sentinel"
        time.sleep(0.2)  # anything still in flight from overlapping subscriptions
    finally:
        c.loop_stop()
        c.disconnect()

    want = {(i, n) for i, f in enumerate(FILTERS) for n in NAMES if match(f, n)}
    assert want == {(i, n) for i, f in enumerate(FILTERS) for n in NAMES if match_levels(compile_filter(f), n)}
    with lock:
        broker = set(got)
    diff = {(FILTERS[i], n, (i, n) in want) for i, n in want ^ broker}
    wrong = sorted(d for d in diff if d[:2] not in KNOWN_MOSQUITTO_DIFFERENCES)
    assert not wrong, "(filter, name, match() says) where the broker disagrees: %r" % wrong
    seen_known = {d[:2] for d in diff if d[:2] in KNOWN_MOSQUITTO_DIFFERENCES}
    assert seen_known == KNOWN_MOSQUITTO_DIFFERENCES, "Mosquitto changed: update KNOWN_MOSQUITTO_DIFFERENCES"
    # The table must exercise both outcomes plenty.
    assert len(want) > 100 and len(FILTERS) * len(NAMES) - len(want) > 500
