# Heap figures for lgnode in use, under MicroPython (the unix port or a board):
#   MICROPYPATH=.frozen:host_tests/portable:lib micropython -X heapsize=64k host_tests/ref/lgnode_mem.py
# Imports what a node uses, builds three sensors (internal, sim, a BME280 on the fake
# bus; the one-shot validator unloads itself), samples, builds the discovery messages and opens
# a signed request; prints gc.mem_alloc() (after gc.collect) at each stage, relative
# to the start. host_tests/ref/rp2_lgnode.py runs it on the RP2040 too.
import gc
import sys

gc.collect()
B0 = gc.mem_alloc()


def mark(what):
    gc.collect()
    print("%-44s %6d" % (what, gc.mem_alloc() - B0))


import asyncio  # noqa: E402

from fake_i2c import BME280Chip, FakeI2C, calibration_bytes  # noqa: E402

mark("asyncio + fake_i2c (test helper)")
from lgnode import auth, availability, discovery, sensors  # noqa: E402

mark("+ lgnode sensors, availability, discovery, auth")
chip = BME280Chip(*calibration_bytes((27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500,
                                      -14600, 6000, 75, 375, 0, 288, 50, 30)))
chip.adc = (415148, 519888, 0x5EB4)
bus = FakeI2C({0x76: chip})
ss = sensors.build([{"type": "internal"}, {"type": "sim"}, {"type": "bme280", "bus": {"scl": 22, "sda": 21}}],
                   i2c=lambda b: bus, internal_temperature=lambda: 41.0)
assert "lgnode.sensorcfg" not in sys.modules
mark("+ 3 sensors built (the validator unloaded)")
sampler = sensors.Sampler(ss)
values, errors = asyncio.run(sampler.sample())
mark("+ first sample (BME280 driver loaded, begun)")
av = availability.availability("lg-node-1")
msgs = discovery.config_messages({"node_id": "lg-node-1", "name": "Greenhouse", "model": "rp2",
                                  "sw_version": "0.1.0"}, sampler.descriptors(), "lg/lg-node-1/telemetry", av)
mark("+ 5 discovery messages held (%d bytes)" % sum(len(p) for _, p in msgs))
del msgs
key = bytes(range(32))
v = auth.Verifier(key, "lg-node-1", clock_ms=lambda: 1718000000000)
req, ok = v.open(auth.signed_request(key, "lg-node-1", {"capability": "lg:led", "operation": "set",
                                                        "params": {"on": True}}, n=1))
mark("+ verifier, one signed request opened")
print("values", values, "errors", errors, "authenticated", ok)
