"""``edge-agent demo``: the whole store on one machine (broker, agent, central's data, the kiosk window).

* :mod:`.run`: :func:`run_demo`, which starts and stops everything below;
* :mod:`.broker`: the embedded amqtt broker;
* :mod:`.cards`: the demo cards, played on nfcpy's simulated reader;
* :mod:`.video`: the generated camera videos and the camera that plays them;
* :mod:`.controls`: the kiosk's demo buttons and keys, turned into taps and the product clip;
* :mod:`.system_packages`: the Debian packages the demo needs, named when missing.
"""

from .run import run_demo

__all__ = ["run_demo"]
