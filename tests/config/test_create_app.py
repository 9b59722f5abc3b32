"""The config server a learner serves alone: a fresh app, repository and cipher key on every call."""

import labsvc.config as config


def test_create_app_makes_a_new_config_server_on_every_call():
    first, second = config.create_app(), config.create_app()
    assert first is not second
    assert first.state.repository is not second.state.repository
    assert first.state.cipher is not second.state.cipher
    first.state.repository.put("greeting", {"greeting": {"message": "changed"}})
    assert second.state.repository.version() != first.state.repository.version()


def test_create_app_passes_its_settings_on():
    cipher = config.ConfigCipher()
    assert config.create_app({"cipher": cipher}).state.cipher is cipher


def test_plot_refresh_is_loaded_on_first_use():
    from labsvc.config import plots

    assert config.plot_refresh is plots.plot_refresh
