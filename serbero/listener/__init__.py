"""The relay listener and its ticker: subscriptions and periodic jobs are data
(`subscriptions.py`, `serbero.ticks`), subscriptions workers want come and go at run time
(`wanted.py`), and the listener's heartbeat tells the operator it is alive (`heartbeat.py`)."""

from serbero.listener.listen import Listener, serve, stop_on_signals
from serbero.listener.subscriptions import Subscription

__all__ = ["Listener", "Subscription", "serve", "stop_on_signals"]
