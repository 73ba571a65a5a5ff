"""hyperstrate service kit: settings, app factory, database, event store, relay, bus.

Import the parts from their modules (`hyperstrate_kit.settings`, `.http`, `.database`,
`.eventstore`, `.relay`, `.bus`, `.telemetry`, `.security`, `.service`, `.embedded`).
"""
