"""The service for the whole trial team (issue 36): eligibility before allocation, arms seen only on the record,
words a research assistant reads. Training mode, the dashboard and the admin pages are in test_service_admin.py."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from advance_trial.randomisation import allocation as al
from tests.allocation_helpers import BLOCKS
from tests.service_helpers import ELIGIBLE, csrf_of, edit_events, run_sql, serve_trial, web_login

#: The ADVANCE design with its participant id pattern.
BLOCKS_AF = BLOCKS + '  participant_id_pattern: "^AF[0-9]{3,5}$"\n'


@pytest.fixture
def served(tmp_path):
    return serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"), eligibility=True, block=BLOCKS_AF)


@pytest.fixture
def client(served):
    return TestClient(served.app())


def _allocate(client, served, pid="AF001", site="london", who="ra.london", eligibility=ELIGIBLE):
    body = {"participant_id": pid, "site": site, **({"eligibility": eligibility} if eligibility is not None else {})}
    return client.post("/api/allocations", headers=served.auth(who), json=body)


# ---------------------------------------------------------------------------- eligibility (API)


def test_the_api_names_the_first_unanswered_or_unmet_criterion_and_writes_nothing(client, served):
    missing = _allocate(client, served, eligibility=None)
    assert missing.status_code == 400
    assert missing.json()["problems"][0]["column"] == "eligibility.adult"
    assert "unanswered: Is he 18 or over?" in missing.json()["error"]
    partial = _allocate(client, served, eligibility={"adult": True, "in_treatment": True})
    assert partial.status_code == 400 and partial.json()["problems"][0]["column"] == "eligibility.abusive"
    # the first unmet criterion in the config's order, whatever the order of the answers
    unmet = _allocate(client, served, eligibility={**ELIGIBLE, "consented": False, "english": False})
    assert unmet.status_code == 400 and unmet.json()["problems"][0]["column"] == "eligibility.english"
    assert "not eligible" in unmet.json()["error"]
    # a criterion whose eligible answer is "no"
    other = _allocate(client, served, eligibility={**ELIGIBLE, "other_programme": True})
    assert other.status_code == 400 and other.json()["problems"][0]["column"] == "eligibility.other_programme"
    for bad in ({**ELIGIBLE, "adult": "yes"}, {**ELIGIBLE, "adult": 1}, {**ELIGIBLE, "shoe_size": True}, ["adult"]):
        assert _allocate(client, served, eligibility=bad).status_code == 400, bad
    assert al.verify_log(served.cfg, served.ring, served.where).allocations == 0


def test_the_answers_are_recorded_with_the_allocation_in_the_chain(tmp_path, log_location):
    served = serve_trial(tmp_path, log_location, eligibility=True)
    client = TestClient(served.app())
    done = _allocate(client, served)
    assert done.status_code == 201, done.text
    (detail,) = [r[0] for r in run_sql(served.where, "SELECT detail FROM events WHERE kind = 'allocation'")]
    assert json.loads(detail) == {"eligibility": ELIGIBLE}
    # the answers are under the row's tag: an edit is caught
    assert al.verify_log(served.cfg, served.ring, served.where).allocations == 1
    edit_events(served.where, "UPDATE events SET detail = REPLACE(detail, 'false', 'true') WHERE kind = 'allocation'")
    from advance_trial.errors import IntegrityError

    with pytest.raises(IntegrityError):
        al.verify_log(served.cfg, served.ring, served.where)


def test_a_config_without_criteria_asks_none_and_refuses_unknown_answers(tmp_path):
    served = serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"))
    client = TestClient(served.app())
    assert _allocate(client, served, eligibility=None).status_code == 201
    assert _allocate(client, served, pid="AF002", eligibility={"adult": True}).status_code == 400


def test_eligibility_criteria_in_the_config_are_checked():
    from advance_trial.config import parse_config
    from advance_trial.errors import ConfigError
    from tests.allocation_helpers import config_text

    text = config_text() + "\n" if "eligibility:" in config_text() else ""
    assert text, "the ADVANCE config asks its eligibility questions"
    cfg = parse_config(config_text(), "advance.yaml")
    assert [c.id for c in cfg.eligibility.criteria] == list(ELIGIBLE)
    assert {c.id: c.eligible for c in cfg.eligibility.criteria} == ELIGIBLE
    twice = config_text().replace("id: english", "id: adult")
    with pytest.raises(ConfigError, match="adult"):
        parse_config(twice, "twice.yaml")


# ---------------------------------------------------------------------------- arms only on the record


def _no_arm_in(text: str, served) -> None:
    cfg = served.cfg
    words = [a.id for a in cfg.arms] + [a.label for a in cfg.arms]
    codes = list(cfg.randomisation.blinding.codes.values()) if cfg.randomisation.blinding else []
    body = text.split("<main>")[1] if "<main>" in text else text
    body = body.replace(cfg.trial.title, "")
    # the form's one-use token is random text: "tau" or a code can stand in it by chance (this test once failed so)
    body = re.sub(r'<input type="hidden" name="csrf" value="[^"]*">', "", body)
    for word in words:
        assert word.lower() not in body.lower(), word
    for code in codes:
        assert f">{code}<" not in body and f'"{code}"' not in body, code


@pytest.mark.parametrize("blinded", [False, True], ids=["open", "blinded"])
def test_no_list_or_look_up_shows_an_arm_for_any_role(tmp_path, blinded):
    served = serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"), blinded=blinded, eligibility=True)
    client = TestClient(served.app())
    for i, site in enumerate(["london", "london", "bristol"], start=1):
        assert _allocate(client, served, f"AF00{i}", site, f"ra.{site}").status_code == 201
    for who in ("ra.london", "unblinder", "stat"):
        listed = client.get("/api/allocations", headers=served.auth(who))
        assert listed.status_code == 200 and listed.json()["allocations"]
        for man in listed.json()["allocations"]:
            assert set(man) == {"participant_id", "site", "sequence", "randomised_on"}
        one = client.get("/api/allocations/AF001", headers=served.auth(who))
        assert one.status_code == 200 and set(one.json()) == {"participant_id", "site", "sequence", "randomised_on"}
        _no_arm_in(listed.text + one.text, served)
        page = TestClient(client.app)
        web_login(page, who)
        _no_arm_in(page.get("/").text, served)
    # asking again is no event: the 409 shows no arm, to the API or the page
    again = _allocate(client, served, "AF001")
    assert again.status_code == 409 and not {"arm", "arm_label", "code"} & set(again.json())
    report = al.verify_log(served.cfg, served.ring, served.where)
    assert (report.unblindings, report.exports) == (0, 0)


def test_the_unblinder_sees_one_arm_per_unblinding_and_the_statistician_every_arm_per_export(client, served):
    for pid in ("AF001", "AF002"):
        assert _allocate(client, served, pid).status_code == 201
    unblinder = TestClient(client.app)
    web_login(unblinder, "unblinder")
    home = unblinder.get("/")
    _no_arm_in(home.text, served)
    shown = unblinder.post("/unblind", data={"csrf": csrf_of(home.text), "participant_id": "AF002",
                                             "reason": "admitted to hospital, clinician asks"})  # fmt: skip
    arm = al.allocations(served.cfg, served.ring, served.where).set_index("participant_id").at["AF002", "arm"]
    assert shown.status_code == 200 and served.cfg.arm(arm).label in shown.text
    assert al.verify_log(served.cfg, served.ring, served.where).unblindings == 1
    # the next page he opens shows no arm again
    _no_arm_in(unblinder.get("/").text, served)
    stat = TestClient(client.app)
    web_login(stat, "stat")
    _no_arm_in(stat.get("/").text, served)
    csv = stat.post("/export", data={"csrf": csrf_of(stat.get("/").text), "reason": "interim data check for DMC"})
    assert csv.status_code == 200 and csv.text.count("\n") == 3
    assert al.verify_log(served.cfg, served.ring, served.where).exports == 1


# ---------------------------------------------------------------------------- the page: eligibility, then confirmation


def _form(page_text: str, pid: str = "AF001", answers=ELIGIBLE, **extra) -> dict[str, str]:
    data = {"csrf": csrf_of(page_text), "participant_id": pid, "site": "london"}
    data.update({f"eligible_{k}": "yes" if v else "no" for k, v in answers.items()})
    data.update(extra)
    return data


def test_the_page_asks_eligibility_then_confirms_before_allocating(client, served):
    web_login(client, "ra.london")
    home = client.get("/")
    for c in served.cfg.eligibility.criteria:
        assert c.question.replace("'", "&#39;") in home.text
        assert f'name="eligible_{c.id}"' in home.text
    confirm = client.post("/allocate/confirm", data=_form(home.text, " AF001 "))
    assert confirm.status_code == 200 and 'id="confirm"' in confirm.text
    assert ">AF001<" in confirm.text and ">London<" in confirm.text and "cannot be undone" in confirm.text
    assert al.verify_log(served.cfg, served.ring, served.where).allocations == 0  # nothing written yet
    # "change": back to the form, everything typed kept
    changed = client.post("/allocate/edit", data={**_form(confirm.text, " AF001 ")})
    assert 'value=" AF001 "' in changed.text and 'id="eligible_adult_yes" value="yes" required checked' in changed.text
    confirm = client.post("/allocate/confirm", data=_form(changed.text))
    done = client.post("/allocate", data={**_form(confirm.text)})
    assert done.status_code == 200 and 'id="receipt"' in done.text
    assert al.verify_log(served.cfg, served.ring, served.where).allocations == 1


def test_an_ineligible_or_malformed_request_says_what_to_do_and_keeps_what_was_typed(client, served):
    web_login(client, "ra.london")
    home = client.get("/")
    no = client.post("/allocate/confirm", data=_form(home.text, "AF007", {**ELIGIBLE, "english": False}))
    assert no.status_code == 400
    message = re.search(r'id="error">([^<]+)<', no.text).group(1)
    assert "Can he take part in a group held in English?" in message and "Nothing was written" in message
    assert 'value="AF007"' in no.text and 'id="eligible_english_no" value="no" checked' in no.text
    unanswered = _form(no.text, "AF007")
    del unanswered["eligible_consented"]
    missing = client.post("/allocate/confirm", data=unanswered)
    assert missing.status_code == 400 and "has no answer yet" in missing.text and "written informed" in missing.text
    # the final post checks again: a forged confirmation of an ineligible man is refused
    forged = client.post("/allocate", data=_form(missing.text, "AF007", {**ELIGIBLE, "adult": False}))
    assert forged.status_code == 400 and "18 or over" in forged.text
    bad = client.post("/allocate/confirm", data=_form(forged.text, "AF12"))
    text = re.search(r'id="error">([^<]+)<', bad.text).group(1)
    assert bad.status_code == 400 and "AF followed by 3 to 5 digits, for example AF001" in text
    assert "^" not in text and "$" not in text and "--" not in text and 'value="AF12"' in bad.text
    assert al.verify_log(served.cfg, served.ring, served.where).allocations == 0


def test_a_short_unblinding_reason_is_refused_in_plain_words(client, served):
    assert _allocate(client, served).status_code == 201
    web_login(client, "unblinder")
    r = client.post("/unblind", data={"csrf": csrf_of(client.get("/").text), "participant_id": "AF001",
                                      "reason": "because"})  # fmt: skip
    text = re.search(r'id="error">([^<]+)<', r.text).group(1)
    assert r.status_code == 400 and "at least three words" in text and "--reason" not in r.text
    assert 'value="because"' in r.text and 'value="AF001"' in r.text
    unknown = client.post("/unblind", data={"csrf": csrf_of(r.text), "participant_id": "AF404",
                                            "reason": "admitted to hospital today"})  # fmt: skip
    assert unknown.status_code == 404 and "No one with participant ID AF404 is allocated" in unknown.text


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [(r"^AF[0-9]{3,5}$", ("AF followed by 3 to 5 digits", "AF001")), (r"^P\d{4}$", ("P followed by 4 digits", "P0001")),
     (r"^[0-9]+$", ("one or more digits", "1")), (r"^(AF|BF)[0-9]+$", None)],
)  # fmt: skip
def test_an_id_pattern_is_described_in_words(pattern, expected):
    from advance_trial.service.words import id_form

    assert id_form(pattern) == expected


# ---------------------------------------------------------------------------- withdrawals and randomised in error


def test_withdrawals_and_randomisations_in_error_are_recorded_from_the_web_and_the_arm_stays(client, served):
    from advance_trial.randomisation.log import open_log

    for pid, site in (("AF001", "london"), ("AF002", "london"), ("AF003", "bristol")):
        assert _allocate(client, served, pid, site, f"ra.{site}").status_code == 201
    before = al.allocations(served.cfg, served.ring, served.where).set_index("participant_id")["arm"].to_dict()
    web_login(client, "ra.london")
    home = client.get("/")
    r = client.post("/status", data={"csrf": csrf_of(home.text), "participant_id": "AF001", "status": "withdrawn",
                                     "reason": "moved out of the area"})  # fmt: skip
    assert r.status_code == 200 and "AF001: recorded as withdrawn" in r.text
    _no_arm_in(r.text, served)
    short = client.post("/status", data={"csrf": csrf_of(r.text), "participant_id": "AF002",
                                         "status": "randomised_in_error", "reason": "wrong"})  # fmt: skip
    assert short.status_code == 400 and "at least three words" in short.text and 'value="wrong"' in short.text
    # another site's man: not found, nothing written
    other = client.post("/status", data={"csrf": csrf_of(short.text), "participant_id": "AF003",
                                         "status": "withdrawn", "reason": "moved out of the area"})  # fmt: skip
    assert other.status_code == 404
    api = client.post("/api/allocations/AF002/status", headers=served.auth("stat"),
                      json={"status": "randomised_in_error", "reason": "under 18 on the day"})  # fmt: skip
    assert api.status_code == 200 and not {"arm", "code", "arm_label"} & set(api.json())
    again = client.post("/api/allocations/AF002/status", headers=served.auth("stat"),
                        json={"status": "randomised_in_error", "reason": "under 18 on the day"})  # fmt: skip
    assert again.status_code == 400
    for who in ("unblinder", "admin"):
        refused = client.post("/api/allocations/AF002/status", headers=served.auth(who),
                              json={"status": "withdrawn", "reason": "moved out of the area"})  # fmt: skip
        assert refused.status_code == 403
    bad = client.post("/api/allocations/AF002/status", headers=served.auth("stat"),
                      json={"status": "deleted", "reason": "moved out of the area"})  # fmt: skip
    assert bad.status_code == 400
    frame = al.allocations(served.cfg, served.ring, served.where).set_index("participant_id")
    assert frame["arm"].to_dict() == before  # the arm never changes
    assert list(frame["randomised_in_error"]) == [False, True, False]  # a withdrawal is not an error
    assert al.log_summary(served.cfg, served.ring, served.where)["corrections"] == 1
    store = open_log(served.where, served.ring)
    try:
        rows = [(e["participant_id"], json.loads(e["detail"]), e["actor"]) for e in store.events()
                if e["kind"] == "correction"]  # fmt: skip
    finally:
        store.close()
    assert rows == [
        ("AF001", {"reason": "moved out of the area", "withdrawn": True}, "service:ra.london"),
        ("AF002", {"randomised_in_error": True, "reason": "under 18 on the day"}, "service:stat"),
    ]
    board = client.get("/api/dashboard", headers=served.auth("stat")).json()
    assert [c["what"] for c in board["corrections"]] == ["withdrawn", "randomised in error"]


# ---------------------------------------------------------------------------- e-mails on allocation


@pytest.mark.parametrize("blinded", [False, True], ids=["open", "blinded"])
def test_each_allocation_e_mails_the_site_and_the_contacts_without_the_arm_when_blinded(tmp_path, blinded):
    import socket

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    class Keep(Sink):
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((sorted(envelope.rcpt_tos), envelope.content.decode().replace("\r\n", "\n")))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Keep()
    sink = Controller(handler, hostname="127.0.0.1", port=port)
    sink.start()
    try:
        extra = ("notify:\n  contacts:\n    - {name: Chief investigator, email: ci@example.org}\n  outbox: ../outbox\n"
                 f"  smtp: {{host: 127.0.0.1, port: {port}, from: advance@example.org, starttls: false}}\n"
                 "  allocations:\n    sites: {london: [london-team@example.org]}\n"
                 "    copy_contacts: true\n")  # fmt: skip
        block = (BLOCKS_AF.replace("strata: [site]", "strata: [site]\n  blinding: {codes: {advance: K, tau: Q}}")
                 if blinded else BLOCKS_AF)  # fmt: skip
        served = serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"), extra=extra, block=block)
        app = served.app()
        client = TestClient(app)
        made = _allocate(client, served, eligibility=None)
        assert made.status_code == 201 and made.json()["notice"]["outbox"].endswith("-allocation.eml")
        for t in app.state.service.mail_threads:
            t.join(20)
    finally:
        sink.stop()
    ((rcpts, content),) = handler.messages
    assert rcpts == ["ci@example.org", "london-team@example.org"] and "AF001 allocated at London" in content
    arm = al.allocations(served.cfg, served.ring, served.where).at[0, "arm"]
    body = content.split("\n\n", 1)[1].replace(served.cfg.trial.title, "").replace(served.cfg.trial.id, "")
    if blinded:
        for word in ("advance", "tau", "treatment as usual", "code k", "code q", "arm: "):
            assert word not in body.lower(), word
        assert "names neither the arm nor its code" in body
    else:
        assert f"Arm: {served.cfg.arm(arm).label}" in body
    (eml,) = (tmp_path / "outbox").glob("*-allocation.eml")
    assert oct(eml.stat().st_mode & 0o777) == "0o600"


def test_an_e_mail_that_cannot_be_written_leaves_the_allocation_answered(tmp_path, monkeypatch):
    from advance_trial.service import notify

    extra = ("notify:\n  contacts: [{name: CI, email: ci@example.org}]\n  outbox: ../outbox\n"
             "  allocations: {sites: {london: [london@example.org]}}\n")  # fmt: skip
    served = serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"), extra=extra)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(notify, "write", full)
    made = TestClient(served.app()).post("/api/allocations", headers=served.auth("ra.london"),
                                         json={"participant_id": "AF001", "site": "london"})  # fmt: skip
    assert made.status_code == 201 and made.json()["arm"] and "No space left" in made.json()["notice"]["error"]


# ---------------------------------------------------------------------------- the command line's answers


def test_the_command_line_answers_the_eligibility_questions(tmp_path, runner):
    from advance_trial.cli.main import app

    served = serve_trial(tmp_path, str(tmp_path / "log" / "log.sqlite"), eligibility=True, block=BLOCKS_AF)
    t = served.trial
    base = ["randomise", "allocate", str(t.config), "--site", "london", "--log", served.where, "--key-dir", str(t.keys)]
    answers = [a for k, v in ELIGIBLE.items() for a in ("--answer", f"{k}={'yes' if v else 'no'}")]
    bad = runner.invoke(app, [*base, "--participant", "AF001", "--answer", "adult"])
    assert bad.exit_code == 2 and "CRITERION=yes" in bad.output
    no = runner.invoke(app, [*base, "--participant", "AF001", *answers[:-2], "--answer", "consented=no"])
    assert no.exit_code == 4 and "consent" in no.output
    ok = runner.invoke(app, [*base, "--participant", "AF001", *answers])
    assert ok.exit_code == 0, ok.output
    (detail,) = [r[0] for r in run_sql(served.where, "SELECT detail FROM events WHERE kind = 'allocation'")]
    assert json.loads(detail) == {"eligibility": ELIGIBLE}
    # through the service: the answers travel with the request; none, and the service names the first question
    from tests.service_helpers import Server

    with Server(served) as server:  # the client in-process (no terminal, no input), the server a process
        env = {"ADVANCE_TRIAL_TOKEN": served.tokens["ra.london"]}
        remote = ["randomise", "allocate", str(t.config), "--site", "london", "--server", server.url]
        missing = runner.invoke(app, [*remote, "--participant", "AF002"], env=env)
        assert missing.exit_code == 4 and "Is he 18 or over?" in missing.stderr
        done = runner.invoke(app, [*remote, "--participant", "AF002", *answers, "--json"], env=env)
        assert done.exit_code == 0, done.stderr
        again = runner.invoke(app, [*remote, "--participant", "AF002", *answers], env=env)
        assert again.exit_code == 0 and "not shown again" in again.stdout
        assert not any(a.label in again.stdout for a in served.cfg.arms)
