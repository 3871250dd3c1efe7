"""`usage-bot check-config` says what `report` would say of the same storage url: the password masked the same
way, and a scheme `report` refuses refused here too (exit 2, the same line)."""

from __future__ import annotations

from .test_cli import run


def test_check_config_masks_the_database_password_as_report_does(tmp_path):
    secret = "s3cret-Pa55"
    (tmp_path / "c.yaml").write_text(f"storage:\n  url: postgresql://alice:{secret}@db.example.org:5432/usage\n")
    out = run("check-config", "-c", str(tmp_path / "c.yaml"))
    assert out.returncode == 0, out.stderr
    assert secret not in out.stdout + out.stderr
    assert "storage postgresql://alice:***@db.example.org:5432/usage" in out.stdout


def test_check_config_refuses_a_scheme_report_refuses(tmp_path):
    (tmp_path / "c.yaml").write_text("storage:\n  url: mysql://bob:hunter22@h/db\n")
    checked = run("check-config", "-c", str(tmp_path / "c.yaml"))
    reported = run("report", "-c", str(tmp_path / "c.yaml"))
    assert (checked.returncode, reported.returncode) == (2, 2)
    assert checked.stdout == ""
    message = "storage url 'mysql://bob:***@h/db': unsupported scheme 'mysql'"
    assert checked.stderr.removeprefix("usage-bot check-config: ") == reported.stderr.removeprefix("usage-bot report: ")
    assert message in checked.stderr and "hunter22" not in checked.stderr
