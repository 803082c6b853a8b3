# tools/bench memory, cases umqtt_simple / umqtt_robust: blocking sockets, no asyncio.
PAYLOAD = b"x" * 64


def prepare(case):
    pass


def run(case, probe, host, port, n):
    if case == "umqtt_robust":
        from umqtt.robust import MQTTClient

        import umqtt.robust as mod
    else:
        from umqtt.simple import MQTTClient

        import umqtt.simple as mod
    probe.origin(mod)
    probe.mark("after_import")
    c = MQTTClient("bench-mem-umqtt", host, port)
    c.connect()
    # QoS 1 is stop-and-wait: without TCP_NODELAY each publish waits out the delayed ACK
    # (~40 ms); the option changes the speed only, not the heap
    c.sock.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY
    probe.mark("connected")
    for _ in range(n):
        c.publish("bench/mem", PAYLOAD, qos=1)  # returns once the PUBACK is in
    probe.mark("after_publish")
    c.disconnect()
