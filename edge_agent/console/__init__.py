"""The store console (issue 16): a web app per store, beside the store broker, for staff phones on the store LAN.

One concept per module:

- :mod:`.config`: ``config/console.example.toml``'s typed model;
- :mod:`.database`: the console's own SQLite (devices, staff records, lockouts, the audit queue);
- :mod:`.link`: its MQTT login, the topics it reads, requests to the agents;
- :mod:`.devices`: the model of every device (state, birth, health, content schedule);
- :mod:`.login`: staff id + PIN against central's staff records, the kiosk's verifier and lockout;
- :mod:`.sessions`, :mod:`.csrf`: the login cookie and the forms' tokens;
- :mod:`.audit`: every staff action at the console as ``event/staff-audit``;
- :mod:`.live`: server-sent events for live pages;
- :mod:`.i18n`: nl/en/fr catalogues (``locale/``);
- :mod:`.service`: the pieces together (:class:`~.service.Console`);
- :mod:`.web`: the Starlette app, the login/role/CSRF checks on every route, templates;
- ``pages_*.py``: the pages (login and health, overview and live events, devices);
- :mod:`.cli`: ``store-console run|validate-config``.
"""
