"""Faithful Moodle 5.0 REST web-service simulator (ASGI) for lmsync tests and benchmarks.

Quick use::

    from connectors.moodle.simulator import tiny_site, create_app, run_in_thread, ADMIN_TOKEN
    site = tiny_site()
    with run_in_thread(create_app(site)) as base:
        httpx.post(f"{base}/webservice/rest/server.php",
                   data={"wstoken": ADMIN_TOKEN, "wsfunction": "core_webservice_get_site_info",
                         "moodlewsrestformat": "json"})

The wire layer (bracket decoding, validate_parameters, clean_returnvalue, error bodies) is
driven by the shipped ``functions.json``; see PROTOCOL.md / OBSERVED-5.0.md for the reference.
"""

from ._app import ENDPOINT, MoodleApp, create_app
from ._control import FAULT_KINDS, SimControl
from ._cost import PhpCost
from ._errors import MoodleError, SimulatorError
from ._model import Token
from ._params import decode_form
from ._reportbuilder import SYNC_COLUMNS, CustomReport, add_participants_report
from ._server import main, run_in_thread
from ._site import BASE_TIME, MoodleSite
from ._tiny import TINY_NOW, tiny_site
from ._tokens import (ADMIN_TOKEN, EXPIRED_TOKEN, REDUCED_EXCLUDED, REDUCED_TOKEN, RESTRICTED_CAPABILITIES,
                      RESTRICTED_TOKEN, SUSPENDED_TOKEN)

__all__ = [
    "ENDPOINT", "MoodleApp", "create_app", "SimControl", "FAULT_KINDS", "MoodleError", "SimulatorError",
    "Token", "decode_form", "main", "run_in_thread", "BASE_TIME", "MoodleSite", "TINY_NOW", "tiny_site",
    "ADMIN_TOKEN", "REDUCED_TOKEN", "RESTRICTED_TOKEN", "EXPIRED_TOKEN", "SUSPENDED_TOKEN",
    "RESTRICTED_CAPABILITIES", "REDUCED_EXCLUDED", "PhpCost", "CustomReport", "add_participants_report",
    "SYNC_COLUMNS",
]
