"""A real oslo.messaging notification listener, as Ceilometer's notification agent runs one.

Usage: notification_listener.py TRANSPORT_URL COUNT
Listens on topic `notifications`, exchange `ceilometer`; prints "READY" once listening, then
one JSON line per notification received ({"publisher_id", "event_type", "payload",
"priority"}), and exits after COUNT notifications (or 60 s).
"""
import json
import sys
import threading

import oslo_messaging
from oslo_config import cfg

url, count = sys.argv[1], int(sys.argv[2])
conf = cfg.ConfigOpts()
conf([], project="listener")
transport = oslo_messaging.get_notification_transport(conf, url=url)
received = []
done = threading.Event()
# The listener runs endpoints on several threads: one locked write per line, or two JSON
# objects can land on the same line (print writes text and newline separately).
out_lock = threading.Lock()


class Endpoint:
    def _record(self, priority, publisher_id, event_type, payload):
        line = json.dumps({"priority": priority, "publisher_id": publisher_id,
                           "event_type": event_type, "payload": payload}) + "\n"
        with out_lock:
            sys.stdout.write(line)
            sys.stdout.flush()
            received.append(1)
            if len(received) >= count:
                done.set()
        return oslo_messaging.NotificationResult.HANDLED

    def sample(self, ctxt, publisher_id, event_type, payload, metadata):
        return self._record("SAMPLE", publisher_id, event_type, payload)

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        return self._record("INFO", publisher_id, event_type, payload)


targets = [oslo_messaging.Target(topic="notifications", exchange="ceilometer")]
listener = oslo_messaging.get_notification_listener(
    transport, targets, [Endpoint()], executor="threading")
listener.start()
print("READY", flush=True)
done.wait(60)
listener.stop()
listener.wait()
sys.exit(0 if len(received) >= count else 1)
