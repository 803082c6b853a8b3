# tools/bench memory, cases lgumqtt_simple / lgumqtt_robust: lgmqtt.umqtt, the drop-in
# for umqtt.simple / umqtt.robust, driven exactly as memory_case_umqtt.py drives those
# (same payload, same TCP_NODELAY), so the rows compare like for like.
PAYLOAD = b"x" * 64


def prepare(case):
    pass


def run(case, probe, host, port, n):
    if case == "lgumqtt_robust":
        from lgmqtt.umqtt.robust import MQTTClient

        import lgmqtt.umqtt.robust as mod
    else:
        from lgmqtt.umqtt.simple import MQTTClient

        import lgmqtt.umqtt.simple as mod
    probe.origin(mod)
    probe.mark("after_import")
    c = MQTTClient("bench-mem-lgumqtt", host, port)
    c.connect()
    c.sock.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY (as the umqtt case)
    probe.mark("connected")
    for _ in range(n):
        c.publish("bench/mem", PAYLOAD, qos=1)  # returns once the PUBACK is in
    probe.mark("after_publish")
    c.disconnect()
