# Freeze lgmqtt into a MicroPython firmware build (bytecode then runs from flash and
# costs no heap): in your board's manifest, include("path/to/lgmqtt/lib/manifest.py").
metadata(description="lgmqtt: MQTT 3.1.1/5.0 connector with a persistent outbox", version="0.1.0")
package("lgmqtt")
package("lgnode")
