"""The agent connects, announces itself and answers a ping through a real Mosquitto."""

from edge_agent.agent import Agent
from tests.support.mqtt import envelope


def test_agent_announces_online_and_answers_ping(mosquitto, make_config, capture, publisher):
    _, config = make_config(mosquitto)
    root = f"cs/v1/{config.store.id}/{config.device.id}"
    cap = capture(mosquitto, f"{root}/#")
    agent = Agent(config)
    agent.start()
    try:
        assert agent.link.wait_connected(10)
        cap.wait_topic("/birth")
        publisher(mosquitto).publish(f"{root}/request/ping", envelope("request-ping/1", {}, transaction="t-42"))
        response = cap.wait_topic("/response/ping")[0].json()
        assert response["status"] == "ok" and response["transaction"] == "t-42"
        assert cap.on("/state")[0].json()["data"]["state"] == "online"
    finally:
        agent.stop()
    cap.wait_for(lambda ms: any(m.topic.endswith("/state") and b'"offline"' in m.payload for m in ms))
