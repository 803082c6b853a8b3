# What the node tells the broker after it connects: availability ("online", retained;
# the Will set at CONNECT leaves "offline" when the node vanishes) and Home Assistant
# discovery (lgnode.discovery's messages, retained), including the removal of entities
# for sensors that are no longer configured. Only the connector's public API is used.
#
# Removal: the object ids announced last are kept in STATE_FILE in flash (with a hash
# of the messages), written only when they change; an id there that the configuration
# no longer has gets an empty retained payload (HA then removes the entity). Not by
# reading the broker's retained config messages back (subscribing to
# <prefix>/sensor/<node_id>/+/config): each is ~360 bytes that arrive in one burst
# while the node connects -- measured, more than an ESP32 without PSRAM has left then
# (the reader task fails) -- and a link lost between SUBSCRIBE and UNSUBSCRIBE would
# leave the connector resubscribing to them after every reconnect. What this does not
# remove: entities announced before the flash was erased (publish an empty retained
# message on their config topic once).
STATE_FILE = "lgdisc.txt"


import gc


async def publish_online(conn, av):
    from lgnode.availability import online_write

    await conn.execute("mqtt:publish", "write", online_write(av))
    print("online topic=%s" % av[0])


async def publish_offline(conn, av):
    """Before a clean disconnect (no Will then): say it ourselves."""
    from lgnode.availability import offline_write

    await conn.execute("mqtt:publish", "write", offline_write(av))
    print("offline topic=%s" % av[0])


def messages(ha, descriptors, state_topic, av, expire_after=None):
    from lgnode.discovery import config_messages

    return config_messages(ha["node"], descriptors, state_topic, av, ha["prefix"], expire_after)


def load_state(path=STATE_FILE):
    """-> (digest or None, [object ids announced last])."""
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except OSError:
        return None, []
    return (lines[0] or None), (lines[1].split() if len(lines) > 1 else [])


def save_state(digest, ids, path=STATE_FILE):
    import os

    with open(path + ".tmp", "w") as f:
        f.write("%s\n%s\n" % (digest, " ".join(ids)))
    try:
        os.rename(path + ".tmp", path)
    except OSError:  # ports whose rename does not replace an existing file
        os.remove(path)
        os.rename(path + ".tmp", path)


def digest(msgs):
    from binascii import hexlify
    from hashlib import sha256

    h = sha256()
    for t, p in msgs:
        h.update(t.encode())
        h.update(b"\n")
        h.update(p.encode())
        h.update(b"\n")
    return hexlify(h.digest()).decode()


async def discovery(conn, ha, msgs, only_if_changed=False):
    """Publish the config messages (retained, QoS 1), and an empty retained payload for
    each object id announced last that msgs no longer has; only_if_changed: nothing
    when msgs are the ones announced last. -> (announced, removed)."""
    from lgnode.discovery import object_id_of, removal_messages

    node_id, prefix = ha["node"]["node_id"], ha["prefix"]
    d = digest(msgs)
    last, had = load_state()
    if only_if_changed and d == last:
        return 0, 0
    ids = [object_id_of(t, node_id, prefix) for t, _ in msgs]
    gone = removal_messages(node_id, had, [(i,) for i in ids], prefix)
    for t, p in msgs + gone:
        # each write holds its payload a few times over (encoded, in the outbox, on the
        # wire): with the garbage of the last one collected first, a board's heap has
        # the contiguous room for it
        gc.collect()
        await conn.execute("mqtt:publish", "write", {"topic": t, "payload": p, "qos": 1, "retain": True})
    if d != last:
        save_state(d, ids)
    print("discovery announced=%d removed=%d prefix=%s" % (len(msgs), len(gone), prefix))
    return len(msgs), len(gone)
