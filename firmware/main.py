# Composition root of a sensor node: config -> board -> connection -> telemetry task.
# Prints one line per event on the console (the sim and a serial monitor read them):
#   connected broker=HOST:PORT
#   published seq=N topic=T
#   error CODE message
import asyncio
import gc
import json

from lgmqtt.errors import ConnectorError, CONFIG_ERROR
from lgmqtt.mini import MiniClient


def load_config(path="config.json", secrets_path="secrets.json"):
    try:
        with open(path) as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        raise ConnectorError(CONFIG_ERROR, "cannot read %s: %s" % (path, e), {"path": path})
    try:  # secrets (Wi-Fi and broker passwords) live in a file that is never committed
        with open(secrets_path) as f:
            secrets = json.load(f)
        cfg.setdefault("config", {}).update(secrets.get("config", {}))
        cfg.setdefault("device", {}).setdefault("wifi", {}).update(secrets.get("wifi", {}))
    except OSError:
        pass
    return cfg


async def telemetry(board, client, dev, mqtt):
    tel = dev.get("telemetry", {})
    topic = tel.get("topic", "lg/{clientId}/telemetry").replace("{clientId}", mqtt["clientId"])
    interval = tel.get("intervalMs", 2000)
    qos = tel.get("qos", 1)
    seq = 0
    while True:
        seq += 1
        reading = board.read_sensor()
        reading["seq"] = seq
        reading["ts"] = board.now()
        board.led(True)
        await client.publish(topic, json.dumps(reading).encode(), qos)
        board.led(False)
        print("published seq=%d topic=%s" % (seq, topic))
        board.feed_watchdog()
        gc.collect()
        await asyncio.sleep_ms(interval) if hasattr(asyncio, "sleep_ms") else await asyncio.sleep(interval / 1000)


async def main(cfg):
    import boards

    dev = cfg.get("device", {})
    mqtt = cfg["config"]
    board = boards.load(dev.get("board", "unix"), dev)
    if not await board.network_up():
        print("error CONNECTION_FAILED network did not come up")
    delay = mqtt.get("reconnectPeriod", 1000)
    while True:
        client = MiniClient(mqtt["host"], mqtt.get("port", 1883), mqtt["clientId"], mqtt.get("keepalive", 60),
                            mqtt.get("username"), mqtt.get("password"), mqtt.get("connectTimeout", 10000))
        try:
            await client.connect()
            print("connected broker=%s:%d" % (mqtt["host"], mqtt.get("port", 1883)))
            delay = mqtt.get("reconnectPeriod", 1000)
            await telemetry(board, client, dev, mqtt)
        except ConnectorError as e:
            print("error %s %s" % (e.error, e.message))
        except OSError as e:
            print("error CONNECTION_FAILED link lost: %s" % e)
        await client.close()
        board.feed_watchdog()
        await asyncio.sleep_ms(delay) if hasattr(asyncio, "sleep_ms") else await asyncio.sleep(delay / 1000)
        delay = min(delay * 2, 60000)


def run():
    try:
        cfg = load_config()
    except ConnectorError as e:
        print("error %s %s" % (e.error, e.message))
        return
    asyncio.run(main(cfg))


run()
