"""@app.on_startup / @app.on_shutdown run on the same event loop as the async handlers
(issue 10): what an async startup hook creates (a queue, a lock, a task) serves the
handlers, and the shutdown hook, on that loop too, finds its task still running and stops
it. Sync and async hooks run in registration order. Inline, with handler threads, and with
the loop on the reactor's thread (one reactor); both io backends (make test-py)."""

from __future__ import annotations

import json

import pytest

from conftest import ServerProcess, get


@pytest.mark.parametrize("mode", [["--threads", "2"], ["--threads", "2", "--handler-threads", "2"], ["--threads", "1"]],
                         ids=["inline", "handler-threads", "loop-on-the-reactor"])
def test_hooks_share_the_handlers_loop(tmp_path, mode):
    # One reactor: the loop leaves its thread for the reactor's while serving, and comes
    # back for the shutdown hook.
    log = tmp_path / "hooks.json"
    srv = ServerProcess("hooks_loop_app:app", *mode, env={"HOOKS_LOG": str(log)})
    try:
        for n, served in ((21, 1), (-4, 2), (0, 3)):
            r = get(srv, f"/double/{n}")
            assert r.status == 200, (r, srv.output())
            assert r.json() == {"doubled": 2 * n, "same_loop": True, "order": ["sync startup", "async startup"],
                                "served": served}
    finally:
        assert srv.stop() == 0, srv.output()
    assert json.loads(log.read_text()) == {"same_loop": True, "task_alive_at_shutdown": True, "served": 3}
