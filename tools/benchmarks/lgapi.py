# The one place the benchmarks import lgmqtt (MicroPython and CPython alike). The
# library's modules are moving into packages (lgmqtt.net.client, lgmqtt.store, ...):
# when they do, only these functions change. Each import happens when its function is
# called, so a heap figure only pays for what it uses.


def client_class():
    """lgmqtt.net.client.Client: Client(cfg).connect(), publish(topic, payload, qos, retain,
    props, wait=True), window_ready(qos), subscribe([(filter, opts)]), disconnect()."""
    from lgmqtt.net.client import Client

    return Client


def connector_class():
    """lgmqtt.Connector: Connector(doc), await execute(capability, operation, params)."""
    from lgmqtt import Connector

    return Connector


class _Codec:
    pass


def codec():
    """The MQTT codec: encode_publish(version, topic, payload, qos, retain, dup, pid[, props]),
    Decoder(version).feed(data) / next_packet(), CONTENT_TYPE (lgmqtt.mqtt.encode, .decode, .props)."""
    from lgmqtt.mqtt.decode import Decoder
    from lgmqtt.mqtt.encode import encode_publish

    c = _Codec()
    c.encode_publish, c.Decoder, c.CONTENT_TYPE = encode_publish, Decoder, 0x03
    return c


def open_store(history_cfg, storage=None):
    """lgmqtt.store.open_store(config.history) -> (History, Outbox) on one ring log."""
    from lgmqtt.store import open_store as o

    return o(history_cfg, storage=storage)


def ringlog_class():
    """lgmqtt.store.log.RingLog(storage, segment_size=, segments=)."""
    from lgmqtt.store.log import RingLog

    return RingLog


def history_outbox_classes():
    """(lgmqtt.store.history.History, lgmqtt.store.outbox.Outbox), built over one RingLog."""
    from lgmqtt.store.history import History
    from lgmqtt.store.outbox import Outbox

    return History, Outbox


def log_message():
    """(pack_message(topic, payload, qos=), peek_topic(body)): the log's record format."""
    from lgmqtt.store.records import pack_message, peek_topic

    return pack_message, peek_topic


def topic_matchers():
    """(match(filter, name), match_levels(levels, name), compile_filter(filter))."""
    from lgmqtt.mqtt.topic import compile_filter, match, match_levels

    return match, match_levels, compile_filter


def paced():
    """lgmqtt.connector.delivery.paced(steps): await a paced query (history read_steps) with loop turns."""
    from lgmqtt.connector.delivery import paced as p

    return p
