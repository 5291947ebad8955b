"""A real WebDAV server on loopback for the tests: wsgidav (PyPI) serving one folder.

    python3 webdav_server.py PORT ROOT USER PASSWORD [--ignore-if-none-match]

Basic authentication with one user (no anonymous access). With --ignore-if-none-match, a
middleware drops the If-None-Match header before wsgidav sees it: a server that does not honour
create-if-absent, which context must refuse.
"""

import sys

from cheroot import wsgi
from wsgidav.wsgidav_app import WsgiDAVApp


def main():
    port, root, user, password = sys.argv[1:5]
    ignore = "--ignore-if-none-match" in sys.argv[5:]
    config = {
        "host": "127.0.0.1",
        "port": int(port),
        "provider_mapping": {"/": root},
        "simple_dc": {"user_mapping": {"*": {user: {"password": password}}}},
        "http_authenticator": {
            "domain_controller": None,
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
        },
        "verbose": 1,
        "logging": {"enable_loggers": []},
        "property_manager": True,
        "lock_storage": True,
    }
    app = WsgiDAVApp(config)
    if ignore:
        inner = app

        def app(environ, start_response):
            environ.pop("HTTP_IF_NONE_MATCH", None)
            return inner(environ, start_response)

    server = wsgi.Server(("127.0.0.1", int(port)), app, numthreads=8)
    try:
        server.start()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
