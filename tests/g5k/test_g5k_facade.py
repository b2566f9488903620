"""The EnOSlib-style facade against the emulator."""

from __future__ import annotations

from bedform import G5k, G5kConf
from bedform.errors import PreflightError


def conf(key) -> G5kConf:
    return (G5kConf.from_settings(job_name="facade-test", walltime="01:00:00", key=str(key))
            .add_machine(roles=["server"], cluster="parasilo", site="rennes", nodes=2)
            .finalize())


def test_init_reload_and_destroy(emu, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAA x\n")
    provider = G5k(conf(key))
    assert provider.test_slot(int(emu.now()), int(emu.now()) + 3600)
    roles, networks = provider.init()
    assert len(roles["server"]) == 2 and networks["prod"]
    assert provider.is_created()
    emu.clear_requests()
    roles2, _ = G5k(conf(key)).init()
    assert roles2 == roles
    assert not [r for r in emu.requests() if r["method"] in ("POST", "DELETE")]
    provider.destroy()
    assert [r for r in emu.requests() if r["method"] == "DELETE"]


def test_context_manager(emu, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAA x\n")
    with G5k(conf(key)) as (roles, _networks):
        assert len(roles["server"]) == 2
    deletes = [r for r in emu.requests() if r["method"] == "DELETE"]
    assert len(deletes) == 1


def test_missing_credentials_is_a_preflight_error(tmp_path, monkeypatch):
    monkeypatch.setenv("BEDFORM_G5K_CONFIG", str(tmp_path / "missing.yaml"))
    from bedform.providers.g5k.client import Api
    try:
        Api()
    except PreflightError as error:
        assert "missing.yaml" in str(error)
    else:
        raise AssertionError("no error")


def test_firewall_with_kavlan_names(stack, monkeypatch):
    from tests.g5k.conftest import section
    stack.write(**section()).apply()
    monkeypatch.chdir(stack.root)
    from bedform.api.g5k import firewall
    from bedform.objects import roles_from_dict
    roles = roles_from_dict(stack.state().outputs["roles"])
    provider = G5k(G5kConf.from_dictionary({**section(), "job_name": "exp"}))
    stack.emu.clear_requests()
    with firewall(provider, roles["server"], port=8080):
        posts = [r for r in stack.emu.requests() if r["method"] == "POST"]
        assert len(posts) == 1 and "/firewall/" in posts[0]["path"]
    assert [r for r in stack.emu.requests() if r["method"] == "DELETE"]


SCRIPT = """
from bedform import G5k, G5kConf
conf = (G5kConf.from_settings(job_name="crashy", walltime="01:00:00", key={key!r})
        .add_machine(roles=["server"], cluster="parasilo", site="rennes", nodes=1)
        .finalize())
roles, networks = G5k(conf).init()
print("reserved", len(roles["server"]))
roles["server"][0].filter_addresses_typo()      # the tutorial's bug
"""


def test_a_script_dying_after_init_says_what_is_still_reserved(emu, tmp_path, monkeypatch):
    """Issue 17, items 12 and 13: progress lines during init() without any logging set
    up, and a script that dies afterwards says what it leaves reserved and how to free
    it."""
    import os
    import subprocess
    import sys

    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAA x\n")
    script = tmp_path / "tutorial.py"
    script.write_text(SCRIPT.format(key=str(key)))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == 1 and "reserved 1" in proc.stdout, proc.stderr
    assert "g5k.job[rennes]: Creation complete" in proc.stderr        # progress shown
    assert "AttributeError" in proc.stderr                           # the real error first
    assert "still holds" in proc.stderr and "reservations g5k.job[rennes]" in proc.stderr
    assert "destroy()" in proc.stderr
    assert not [r for r in emu.requests() if r["method"] == "DELETE"]   # still reserved
    monkeypatch.chdir(tmp_path)
    conf = (G5kConf.from_settings(job_name="crashy", walltime="01:00:00", key=str(key))
            .add_machine(roles=["server"], cluster="parasilo", site="rennes", nodes=1)
            .finalize())
    G5k(conf).destroy()                                               # what it advised
    assert [r for r in emu.requests() if r["method"] == "DELETE"]


def test_async_init_records_the_job_and_init_adopts_it(emu, tmp_path, monkeypatch):
    """Issue 11: async_init goes through plan/apply with a write-ahead record, so the job
    it submits is in the state at once and `init` adopts it (one POST in all)."""
    from bedform.state.store import StateStore

    monkeypatch.chdir(tmp_path)
    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAA x\n")
    provider = G5k(conf(key))
    provider.async_init()
    records = StateStore(provider.state_dir).load().resources
    assert len(records) == 1               # the job alone: nothing else was applied
    record = next(iter(records.values()))
    assert record.kind == "g5k_job" and record.status == "pending_create"
    assert record.attributes["uid"]
    roles, _ = provider.init()
    assert len(roles["server"]) == 2
    posts = [r for r in emu.requests()
             if r["method"] == "POST" and r["path"].endswith("/sites/rennes/jobs")]
    assert len(posts) == 1
    state = StateStore(provider.state_dir).load()
    assert state.resources[record.address].status == "ready"
    assert state.resources[record.address].attributes["uid"] == record.attributes["uid"]
    provider.destroy()
