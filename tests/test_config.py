import re
from pathlib import Path

import pytest

from matrix_usage_bot.bot.config import load_config
from matrix_usage_bot.tracking.settings import ConfigError, load_tracking_settings

ROOT = Path(__file__).parents[1]


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_example_config_is_valid(monkeypatch):
    monkeypatch.setenv("USAGE_BOT_PASSWORD", "s3cret")
    config = load_config(ROOT / "config.example.yaml")
    assert config.matrix.password == "s3cret"
    assert config.bot.command_prefix == "!usage" and config.bot.timezone == "Europe/Berlin"
    assert config.quotas.thresholds == [75, 90, 100]
    assert config.tracking().pricing.overrides[0].match == "ollama/*"


def test_example_config_without_credentials_says_so(monkeypatch):
    monkeypatch.delenv("USAGE_BOT_PASSWORD", raising=False)
    monkeypatch.delenv("USAGE_BOT_ACCESS_TOKEN", raising=False)
    config = load_config(ROOT / "config.example.yaml")  # enough for serve and plugin mode; run needs a login
    with pytest.raises(ConfigError, match="matrix: set password or access_token: usage-bot run logs in"):
        config.standalone()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("matrix: {homeserver: https://h, user_id: '@b:h', password: x, colour: red}", "matrix.colour: unknown key"),
        ("matrix: {homeserver: h, user_id: '@b:h', password: x}", "matrix.homeserver: must be an http"),
        ("matrix: {homeserver: https://h, user_id: bob, password: x}", "matrix.user_id: must be a full Matrix user id"),
        ("matrix: {homeserver: https://h, user_id: '@b:h', password: '${NOPE_NOT_SET}'}",
         "matrix.password: environment variable NOPE_NOT_SET is not set"),
        ("matrix: {homeserver: https://h, user_id: '@b:h', password: x}\nbot: {timezone: Mars/Base}",
         "bot.timezone: unknown timezone 'Mars/Base'"),
        ("matrix: {homeserver: https://h, user_id: '@b:h', password: x}\nquotas: {defaults: [{scope: room, "
         "window: weekly, limit: 5}]}", "quotas.defaults.0.window: Input should be 'hourly', 'daily' or 'monthly'"),
        ("matrix: {homeserver: https://h, user_id: '@b:h', password: x}\nquotas: {defaults: [{scope: room, "
         "window: daily, limit: lots}]}", "quotas.defaults.0.limit: amount 'lots'"),
        ("matrix: {homeserver: https://h, user_id: '@b:h', password: x}\ndigests: {default_time: '25:00'}",
         "digests.default_time: must be HH:MM"),
        ("matrix: {homeserver: https://h, user_id: '@b:h', password: x}\npricing: {overrides: [{match: 'x/*', "
         "input: -1, output: 0}]}", "pricing.overrides.0.input: Input should be greater than or equal to 0"),
        ("matrix: [1, 2", "not valid YAML at line 1"),
        ("- a list", "the top level must be a mapping"),
        ("bot: {responders: ['@a:h', bob]}", "bot.responders: 'bob' is not a full Matrix user id"),
        ("bot: {admins: [carol]}", "bot.admins: 'carol' is not a full Matrix user id"),
    ],
)
def test_bad_config_names_key_path_and_reason(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert message in str(info.value) and str(tmp_path) in str(info.value)


def test_env_defaults_and_tracking_sections(tmp_path, monkeypatch):
    monkeypatch.setenv("DB_DIR", "/srv/usage")
    path = write(tmp_path, "storage: {url: 'sqlite:///${DB_DIR}/u.db', retention_days: 30}\n"
                           "bot: {timezone: '${TZ_NAME:-Asia/Tokyo}'}\nmatrix: {ignored: by tracking}")  # fmt: skip
    settings = load_tracking_settings(path)
    assert settings.storage.url == "sqlite:////srv/usage/u.db" and settings.timezone == "Asia/Tokyo"


def test_check_config_cli(tmp_path, monkeypatch):
    from matrix_usage_bot.bot.cli import main

    monkeypatch.setenv("USAGE_BOT_PASSWORD", "pw")
    assert main(["check-config", "-c", str(ROOT / "config.example.yaml")]) == 0
    assert main(["check-config", "-c", str(write(tmp_path, "matrix: {}"))]) == 2


@pytest.mark.parametrize(
    ("limit", "reason"),
    [("'$0.0000000000001'", "a dollar amount is between $0.000001 and $1,000,000,000"),
     ("'$99999999999999999999'", "a dollar amount is between"),
     ("99999999999999999999999999999b", "a token amount is a whole number between 1 and 1,000,000,000,000,000")],
)  # fmt: skip
def test_check_config_refuses_absurd_quota_amounts(tmp_path, capsys, limit, reason):
    from matrix_usage_bot.bot.cli import main

    text = f"matrix: {{homeserver: https://h, user_id: '@b:h', password: x}}\nquotas: {{defaults: [{{scope: global, " \
           f"window: monthly, limit: {limit}}}]}}"  # fmt: skip
    assert main(["check-config", "-c", str(write(tmp_path, text))]) == 2
    err = capsys.readouterr().err.strip()
    assert "quotas.defaults.0.limit" in err and reason in err and "Traceback" not in err and "\n" not in err


def test_plugin_mode_needs_no_matrix_section_and_run_says_it_does(tmp_path, capsys):
    from matrix_usage_bot.bot.cli import main

    path = write(tmp_path, f"storage: {{url: 'sqlite:///{tmp_path}/u.db'}}\n"
                           "bot: {admins: ['@boss:h'], responders: ['@main:h', '@backup:h']}")  # fmt: skip
    config = load_config(path)
    assert config.matrix is None and config.bot.responders == ["@main:h", "@backup:h"]
    assert config.bot_admins() == {"@boss:h"}
    assert main(["check-config", "-c", str(path)]) == 0
    assert "no matrix section: plugin mode only" in capsys.readouterr().out
    assert main(["run", "-c", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"usage-bot run: {path}: matrix: this section is required to run the bot on its own account"
                   " (only the plugin inside another bot does without it)")  # fmt: skip


def test_bot_admins_from_both_places(tmp_path):
    path = write(tmp_path, "matrix: {homeserver: https://h, user_id: '@b:h', password: x, bot_admins: ['@old:h']}\n"
                           "bot: {admins: ['@new:h']}")  # fmt: skip
    assert load_config(path).bot_admins() == {"@old:h", "@new:h"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http: {listen: localhost}", "http.listen: must be HOST:PORT"),
        ("http: {keys: [{name: a, key: short, rooms: all}]}", "http.keys.0.key: String should have at least 16"),
        ("http: {keys: [{name: a, key: 0123456789abcdefX, rooms: [general]}]}", "http.keys.0.rooms"),
        ("http: {keys: [{name: a, key: 0123456789abcdefX, rooms: []}]}", "list at least one room id"),
        ("http: {keys: [{name: a, key: 0123456789abcdefX, rooms: all, admin: 1}]}", "http.keys.0.admin: unknown key"),
        ("http: {keys: [{name: ingest, key: 0123456789abcdefX, rooms: all}]}",
         "http.keys.0.name: 'ingest' names events of another entry point"),
        ("http: {metrics: {labels: [user]}}", "http.metrics.labels.0"),
        ("http: {max_body_bytes: 10}", "http.max_body_bytes"),
        ("webhooks: [{url: ftp://x, secret: 0123456789abcdefX}]", "webhooks.0.url: must be an http"),
        ("webhooks: [{url: 'https://x', secret: 0123456789abcdefX, events: [lunch]}]", "webhooks.0.events.0"),
        ("posthog: {host: 'https://x'}", "posthog.api_key: Field required"),
    ],
)
def test_http_sections_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(write(tmp_path, text))


def test_http_keys_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("USAGE_KEY_T", "from-the-environment-0123")
    config = load_config(write(tmp_path, "http: {keys: [{name: t, key: '${USAGE_KEY_T}', rooms: ['!a:x']}]}"))
    assert config.http.keys[0].key == "from-the-environment-0123" and config.http.host_port() == ("127.0.0.1", 8480)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dashboard: {link_ttl: 2w}", "dashboard.link_ttl: '2w' is not a duration like 7d, 12h or 90m"),
        ("dashboard: {link_ttl: 4m}", "dashboard.link_ttl: must lie between 5m and 366d"),
        ("dashboard: {link_ttl: 367d}", "dashboard.link_ttl: must lie between 5m and 366d"),
        ("dashboard: {widget: maybe}", "dashboard.widget"),
        ("dashboard: {colour: blue}", "dashboard.colour: unknown key"),
        ("http: {public_url: 'ftp://usage.example.org'}", "http.public_url: must be an http://"),
        ("http: {public_url: 'https://usage.example.org/#x'}", "http.public_url: must be an http://"),
    ],
)
def test_dashboard_settings_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(write(tmp_path, text))


def test_dashboard_defaults_and_durations(tmp_path):
    from datetime import timedelta

    assert load_config(write(tmp_path, "bot: {}")).dashboard.link_ttl == timedelta(days=7)
    config = load_config(write(tmp_path, "dashboard: {link_ttl: 90m, widget: true}\n"
                                         "http: {public_url: 'https://example.org/usage/'}"))  # fmt: skip
    assert config.dashboard.link_ttl == timedelta(minutes=90) and config.dashboard.widget
    assert config.http.public_url == "https://example.org/usage"
