"""The kiosk's configuration file writable by others is warned about, as the agent warns about its own."""

import logging

from kiosk.config import read_toml


def test_kiosk_config_writable_by_everyone_is_read_with_a_warning_naming_the_file_and_the_fix(tmp_path, caplog):
    folder = tmp_path / "etc"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    path = folder / "kiosk.toml"
    path.write_text('[store]\nid = "store-1"\n[device]\nid = "kiosk-1"\n')
    path.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="kiosk.config"):
        read_toml(path)
    assert not caplog.records, "a file only its owner may change needs no warning"
    path.chmod(0o666)
    with caplog.at_level(logging.WARNING, logger="kiosk.config"):
        document, _ = read_toml(path)
    assert document["store"]["id"] == "store-1", "still read: a warning, not a refusal (as the agent)"
    [warning] = [record.getMessage() for record in caplog.records]
    assert str(path) in warning and "writable by others" in warning and "controls the kiosk" in warning
    assert f"chmod go-w {path}" in warning
