# Broker order for failover and load balancing.
from check import eq, raises
from lgmqtt.net.brokers import BrokerList
from lgmqtt.errors import ConnectorError


def _cfg(lb=None, cid="dev", failover=True):
    c = {"clientId": cid, "failover": failover,
         "brokers": [{"host": "a", "port": 1, "weight": 1}, {"host": "b", "port": 2, "weight": 3},
                     {"host": "c", "port": 3, "weight": 0}]}
    if lb:
        c["loadBalancing"] = lb
    return c


def test_round_robin_walks_the_list_on_failure():
    bl = BrokerList(_cfg("round-robin"))
    seen = []
    for _ in range(4):
        seen.append(bl.current_name())
        bl.failed()
    eq(seen, ["a:1", "b:2", "c:3", "a:1"])


def test_no_failover_stays():
    bl = BrokerList(_cfg(failover=False))
    bl.failed()
    eq(bl.current_name(), "a:1")


def test_weighted_order_follows_weights_across_a_fleet():
    firsts = {}
    for i in range(400):
        bl = BrokerList(_cfg("weighted", "node-%d" % i))
        eq(sorted(bl.order), [0, 1, 2])  # every broker still reachable by failover
        firsts[bl.index] = firsts.get(bl.index, 0) + 1
        eq(bl.order[-1], 2)  # weight 0: only as a last resort
    # weight 3 vs 1: b first for about three quarters of the devices
    assert 240 <= firsts.get(1, 0) <= 360, firsts
    eq(firsts.get(2, 0), 0)
    # and the same device always gets the same order
    eq(BrokerList(_cfg("weighted", "node-7")).order, BrokerList(_cfg("weighted", "node-7")).order)


def test_select_and_default_ports():
    bl = BrokerList(_cfg())
    bl.select(2)
    eq((bl.index, bl.current_name()), (2, "c:3"))
    eq(raises(ConnectorError, bl.select, 5).error, "CONFIG_ERROR")
    eq(BrokerList({"host": "h", "protocol": "mqtts"}).current()["port"], 8883)
    eq(BrokerList({"host": "h"}).current()["port"], 1883)
