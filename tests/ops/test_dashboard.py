"""`serbero dashboard` over HTTP against real servers and real Redis: every queue listed, a dead
letter requeued through the UI's CSRF-protected form, and the token gate's refusals."""

import base64
import re
import socket
from urllib.parse import urlencode

from click.testing import CliRunner

from serbero.cli import cli
from serbero.config import Secret
from serbero.ops.http import is_loopback
from tests.conftest import NAMESPACE, REDIS_URL
from tests.ops.conftest import TOKEN, dead_letter, expected_queues, http
from workers import actors
from workers.dashboard import dashboard_app


def basic(user: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def listed_queues(html: str) -> set[str]:
    return set(re.findall(r'href="/queues/([^"/]+)"', html))


def test_the_command_lists_every_queue_of_the_deployment_even_idle_ones(broker, server_process):
    # Given no message at all in any queue, and a dashboard started as its own process
    server = server_process(["dashboard", "--port", "0"], {"SERBERO_DASHBOARD_TOKEN": TOKEN})
    # When an operator opens the index with the token
    page = http(server.url + "/", token=TOKEN)
    # Then every queue the actors use is listed, with its (zero) counts
    assert page.status == 200
    assert listed_queues(page.body) == expected_queues()
    stderr = server.stop()
    assert "Traceback" not in stderr and TOKEN not in stderr


def test_with_redis_down_the_dashboard_shows_a_page_that_says_so(private_redis,
                                                                 server_process):
    # issue 10, operator item 12: it answered a bare 500, with a traceback in its log
    # Given a dashboard on a Redis of its own, which answers at first
    server = server_process(["dashboard", "--port", "0"], {
        "SERBERO_DASHBOARD_TOKEN": TOKEN, "SERBERO_REDIS_URL": private_redis.url})
    assert http(server.url + "/", token=TOKEN).status == 200
    # When Redis stops
    private_redis.stop()
    page = http(server.url + "/queues/notify", token=TOKEN)
    # Then the operator reads what is wrong and what to do, and the log has one line for it
    assert page.status == 503
    assert "Redis does not answer" in page.body and private_redis.url in page.body
    assert "Start Redis (or fix SERBERO_REDIS_URL)" in page.body
    stderr = server.stop()
    assert "Traceback" not in stderr
    assert stderr.count("dashboard_redis_unavailable") == 1


def test_requests_without_the_right_token_are_refused(broker, serve_app):
    url = serve_app(dashboard_app(Secret(TOKEN), REDIS_URL))
    refused = http(url + "/")
    assert refused.status == 401
    assert refused.headers["www-authenticate"].startswith('Basic realm="serbero dashboard"')
    assert "Queue" not in refused.body
    assert http(url + "/", token=TOKEN + "x").status == 401
    assert http(url + "/", token=TOKEN[:-1]).status == 401
    assert http(url + "/", headers=basic("ops", "wrong-" + TOKEN)).status == 401
    assert http(url + "/", headers={"Authorization": "Basic !!notbase64"}).status == 401
    no_colon = base64.b64encode(TOKEN.encode()).decode()  # a password needs its `user:` part
    assert http(url + "/", headers={"Authorization": f"Basic {no_colon}"}).status == 401
    assert http(url + "/", headers={"Authorization": TOKEN}).status == 401
    # a refused POST changes nothing either
    assert http(url + "/delete-message", data=b"queue=notify&id=x").status == 401
    # the token works as a bearer token and as the basic-auth password, whatever the user
    assert http(url + "/", token=TOKEN).status == 200
    page = http(url + "/queues/events", headers=basic("anyone", TOKEN))
    assert page.status == 200
    assert page.headers["x-frame-options"] == "DENY"


def test_a_dead_letter_is_requeued_through_the_ui(broker, redis_client, serve_app):
    # Given a publish job whose retries ran out
    message_id = dead_letter(broker, actors.publish_outbox_row.message(4242))
    assert redis_client.zcard(f"{NAMESPACE}:notify.XQ") == 1
    url = serve_app(dashboard_app(Secret(TOKEN), REDIS_URL))
    # When the operator opens the failed tab
    page = http(url + "/queues/notify/failed", token=TOKEN)
    assert page.status == 200
    assert message_id in page.body and "publish_outbox_row(4242)" in page.body
    [cookie] = [c.split(";")[0] for c in page.cookies if c.startswith("__dd_csrf=")]
    csrf = cookie.split("=", 1)[1]
    assert f'name="__dd_csrf" value="{csrf}"' in page.body
    form = {"id": message_id, "queue": "notify.XQ"}
    # a forged form (wrong CSRF token) is refused and changes nothing
    forged = http(url + "/requeue-message", token=TOKEN, headers={"Cookie": cookie},
                  data=urlencode({**form, "__dd_csrf": "0" * 64}).encode())
    assert forged.status == 403
    assert redis_client.zcard(f"{NAMESPACE}:notify.XQ") == 1
    # and presses Requeue
    done = http(url + "/requeue-message", token=TOKEN, headers={"Cookie": cookie},
                data=urlencode({**form, "__dd_csrf": csrf}).encode())
    # Then the job is back on its queue, ready to run, and no longer dead
    assert done.status == 302
    assert done.headers["location"].startswith("/queues/notify/standard/")
    assert redis_client.zcard(f"{NAMESPACE}:notify.XQ") == 0
    assert redis_client.llen(f"{NAMESPACE}:notify") == 1
    shown = http(url + done.headers["location"], token=TOKEN)
    assert shown.status == 200
    assert "<pre>publish_outbox_row</pre>" in shown.body and "4242" in shown.body
    index = http(url + "/", token=TOKEN)
    assert re.search(r"notify\s*</a>\s*</td>\s*<td[^>]*>\s*1\s*</td>", index.body)


def test_a_planted_csrf_cookie_is_not_echoed_into_the_page(broker, serve_app):
    url = serve_app(dashboard_app(Secret(TOKEN), REDIS_URL))
    page = http(url + "/queues/notify/failed", token=TOKEN,
                headers={"Cookie": '__dd_csrf="><script>alert(1)</script>'})
    assert page.status == 200
    assert "<script>alert(1)" not in page.body


def test_serving_off_loopback_without_a_token_is_refused():
    result = CliRunner(env={"SERBERO_DASHBOARD_TOKEN": ""}).invoke(
        cli, ["dashboard", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "SERBERO_DASHBOARD_TOKEN: not set" in result.stderr
    assert "--host 127.0.0.1" in result.stderr


def test_a_short_token_is_refused_without_showing_it():
    result = CliRunner(env={"SERBERO_DASHBOARD_TOKEN": "hunter2"}).invoke(
        cli, ["dashboard", "--port", "0"])
    assert result.exit_code == 2
    assert "SERBERO_DASHBOARD_TOKEN: too short" in result.stderr
    assert "hunter2" not in result.output + result.stderr


def test_the_dashboard_needs_redis():
    result = CliRunner(env={"SERBERO_DASHBOARD_TOKEN": TOKEN, "SERBERO_REDIS_URL": ""}).invoke(
        cli, ["dashboard", "--port", "0"])
    assert result.exit_code == 2
    assert "SERBERO_REDIS_URL: not set" in result.stderr


def test_a_port_in_use_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner(env={"SERBERO_DASHBOARD_TOKEN": TOKEN}).invoke(
            cli, ["dashboard", "--port", str(port)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: cannot listen on 127.0.0.1:{port}: the port is already in use by another "
        "process; stop it or choose another --port.")


def test_only_loopback_addresses_count_as_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::")
    assert not is_loopback("10.1.2.3") and not is_loopback("no-such-host.invalid")


def test_with_a_configuration_the_web_view_is_served_beside_the_queues(broker, db, config_file,
                                                                       server_process):
    # issue 9: one process, one token, the web view under /web/ and the queues at /
    server = server_process(["dashboard", "-c", str(config_file), "--port", "0"],
                            {"SERBERO_DASHBOARD_TOKEN": TOKEN})
    web = http(server.url + "/web/", token=TOKEN)
    assert web.status == 200 and 'href="/">Queues</a>' in web.body
    assert listed_queues(http(server.url + "/", token=TOKEN).body) == expected_queues()
    for path in ("/web/", "/web/charts", "/"):
        assert http(server.url + path).status == 401
        assert http(server.url + path, token=TOKEN + "x").status == 401
    stderr = server.stop()
    assert "Traceback" not in stderr and TOKEN not in stderr


def test_without_redis_or_a_configuration_the_dashboard_says_what_it_needs(tmp_path):
    from tests.conftest import run_serbero

    done = run_serbero("dashboard", "--port", "0", cwd=tmp_path,
                       env={"SERBERO_DASHBOARD_TOKEN": TOKEN})
    assert done.returncode == 2
    assert "SERBERO_REDIS_URL: not set" in done.stderr and "--config" in done.stderr
