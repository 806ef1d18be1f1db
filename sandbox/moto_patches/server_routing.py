"""moto's server routes a request without listing its package folder each time.

Not an AWS behaviour but a cost of moto's server: to route each request it lists its own
package folder (a stat for each of ~180 services), twice: 3.5 of the 5 ms it spends on an S3
GET. The folder does not change while the process runs, so the patch lists it once.
"""

from __future__ import annotations

import functools

from sandbox.moto_patches import Internals, applied, mark

PATCH = "server_routing"


def apply() -> None:
    import moto.backends as backends
    from moto.moto_server import werkzeug_app

    check = Internals(PATCH)
    original = check.function(backends, "list_of_moto_modules")
    # The server reads it through the module, at each request (so replacing it there works).
    if check.attribute(werkzeug_app, "backends") is not backends:
        raise check.missing("moto.moto_server.werkzeug_app no longer imports moto.backends")
    check.calls(werkzeug_app.DomainDispatcherApplication, "backends.list_of_moto_modules()")

    if applied(original, PATCH):
        return
    services = tuple(original())

    @functools.wraps(original)
    def list_of_moto_modules():
        return services

    backends.list_of_moto_modules = mark(list_of_moto_modules, PATCH)
