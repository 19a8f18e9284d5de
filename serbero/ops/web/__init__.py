"""The operator web view of `serbero dashboard`: the disputes list, a page per dispute with its
timeline, charts of how fast disputes are noticed, taken and resolved, and two forms
(escalate, requeue a notice). Read side plus two actions; the actions are given by the
composition root, which knows how to enqueue (this package never imports the broker).
"""

from serbero.ops.web.app import WebView, beside

__all__ = ["WebView", "beside"]
