"""The protocol registry is found once per process, and threads asking at once all see it
whole (issue 8: bench/chaos.py's worker kills showed a fresh worker process refusing its first
notices with "unknown transport 'v2'" while another thread was still loading v2)."""

import subprocess
import sys

#: A fresh interpreter (an empty registry) where loading a version module is slow, as on a
#: busy machine; a second thread asks for v2 while the first is still loading it.
RACE = """
import importlib, threading, time
from serbero.mostro import protocols

class SlowLoading:
    def import_module(self, name):
        if name.endswith(".v2"):
            time.sleep(0.2)
        return importlib.import_module(name)

protocols.importlib = SlowLoading()
failed = []
def ask():
    try:
        protocols.get("v2")
    except KeyError:
        failed.append(1)
first, second = threading.Thread(target=ask), threading.Thread(target=ask)
first.start(); time.sleep(0.05); second.start()
first.join(); second.join()
print(len(failed))
"""


def test_a_thread_asking_while_another_loads_the_registry_finds_every_version():
    done = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "0", done.stdout + done.stderr
