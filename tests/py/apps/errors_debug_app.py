"""App(debug=True): the traceback in the 500 problem (/crash: "visible in debug",
/async-crash: "visible in debug (async)")."""

from errors_plain_app import add_shared_routes
from ringbolt import App

app = add_shared_routes(App(debug=True), message="visible in debug")
