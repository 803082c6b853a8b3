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
    """lgmqtt.store.open_store(config.history) -> (History, Outbox) on one ring log
    (the Store is history.store)."""
    from lgmqtt.store import open_store as o

    st = o(history_cfg, storage=storage)
    return st.history, st.outbox


def ringlog_class():
    """lgmqtt.store.log.RingLog(storage, segment_size=, segments=)."""
    from lgmqtt.store.log import RingLog

    return RingLog


def store_class():
    """lgmqtt.store.Store(log, record=, policy=, max_pending=): .history, .outbox, .sync(), .close()."""
    from lgmqtt.store import Store

    return Store


def log_message():
    """(parts(topic, payload, qos=) -> a record body for log.append, peek_topic(body)):
    the log's message record format (lgmqtt.store.records)."""
    from lgmqtt.store.history import message
    from lgmqtt.store.journal import K_PUBLISHED
    from lgmqtt.store.records import peek_topic

    return (lambda topic, payload, qos=0: message(topic, payload, qos).parts()), (
        lambda body: peek_topic(K_PUBLISHED, body))


def topic_matchers():
    """(match(filter, name), match_levels(levels, name), compile_filter(filter))."""
    from lgmqtt.mqtt.topic import compile_filter, match, match_levels

    return match, match_levels, compile_filter


def paced():
    """lgmqtt.connector.delivery.paced(steps): await a paced query (history read_steps) with loop turns."""
    from lgmqtt.connector.delivery import paced as p

    return p
