"""The relay listener and its ticker: subscriptions and periodic jobs are data
(`subscriptions.py`, `serbero.ticks`), subscriptions workers want come and go at run time
(`wanted.py`), relays are read back from the cursor page by page (`catchup.py`) and watched
(`relay_watch.py`), the listener's heartbeat tells the operator it is alive (`heartbeat.py`), and
`service.py` runs it all until it is told to stop."""

from serbero.listener.listen import Listener
from serbero.listener.service import serve, stop_on_signals
from serbero.listener.subscriptions import Subscription

__all__ = ["Listener", "Subscription", "serve", "stop_on_signals"]
